"""Standard codes for the drugs and products cartmonitor records: RxNorm and WHO ATC.

The one table of them (docs/fhir.md "Drug and product codes" lists each code with where it was
checked), keyed by the code the app stores: ``Treatment.drug`` ("tocilizumab", "antipyretic")
and the course's product ("axi-cel", "teclistamab"). A drug or product that is not here, or
lacks one of the two systems, goes out with its local code only: a code is added only after it
was checked against a published source, because a wrong code is worse than none.

RxNorm codes are ingredient concepts (term type IN): the exports say which substance was
given, not which package. ATC codes are the substance's level-5 code in the WHO ATC/DDD Index.
"""

from __future__ import annotations

from dataclasses import dataclass

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str

    def coding(self) -> dict:
        return {"system": self.system, "code": self.code, "display": self.display}


def _rxnorm(code: str, display: str) -> Code:
    return Code(RXNORM, code, display)


def _atc(code: str, display: str) -> Code:
    return Code(ATC, code, display)


# app code -> its standard codes (RxNorm first, then ATC). Sources: docs/fhir.md.
MEDICATION_CODES: dict[str, tuple[Code, ...]] = {
    # Treatments (Treatment.Drug). Dexamethasone and methylprednisolone: the systemic
    # corticosteroid codes (H02AB), the use in CRS/ICANS.
    "tocilizumab": (_rxnorm("612865", "tocilizumab"), _atc("L04AC07", "tocilizumab")),
    "dexamethasone": (_atc("H02AB02", "dexamethasone"),),
    "methylprednisolone": (_atc("H02AB04", "methylprednisolone"),),
    "anakinra": (_atc("L04AC03", "anakinra"),),
    "siltuximab": (_atc("L04AC11", "siltuximab"),),
    # Products (the course's product code). CAR-T cells: L01XL since the 2023 ATC index
    # (before: L01XX, e.g. axi-cel L01XX70, tisa-cel L01XX71 - do not use those).
    "axi-cel": (_atc("L01XL03", "axicabtagene ciloleucel"),),
    "tisa-cel": (_atc("L01XL04", "tisagenlecleucel"),),
    "cilta-cel": (_atc("L01XL05", "ciltacabtagene autoleucel"),),
    "brexu-cel": (_atc("L01XL06", "brexucabtagene autoleucel"),),
    "ide-cel": (_atc("L01XL07", "idecabtagene vicleucel"),),
    "liso-cel": (_atc("L01XL08", "lisocabtagene maraleucel"),),
    "obe-cel": (_atc("L01XL12", "obecabtagene autoleucel"),),
    # T-cell engagers (product code = INN)
    "teclistamab": (_atc("L01FX24", "teclistamab"),),
    "mosunetuzumab": (_atc("L01FX25", "mosunetuzumab"),),
    "epcoritamab": (_atc("L01FX27", "epcoritamab"),),
    "talquetamab": (_atc("L01FX29", "talquetamab"),),
    "linvoseltamab": (_atc("L01FX37", "linvoseltamab"),),
    "blinatumomab": (_rxnorm("1597258", "blinatumomab"), _atc("L01FX07", "blinatumomab")),
}


def codes_for(app_code: str) -> tuple[Code, ...]:
    """The checked standard codes of a drug or product ("" and unknown codes: none)."""
    return MEDICATION_CODES.get(app_code, ())
