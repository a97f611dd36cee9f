"""The therapy products cartmonitor ships with, and what each product's label says about
monitoring: the defaults the ``TherapyProduct`` rows start from (migration
0019_products_therapyproduct, and ``products.ensure_shipped_products`` for a database that lost
them). Admins edit the rows afterwards; this module is not read at run time.

Pure data, no Django. Every label fact is cited in docs/clinical-rules.md ("Products and their
labels") with the copy of the label it was read from; a value we could not verify in a label
is left empty (None / "") and the docs say so. The centre must check every value against the
current label before use: labels change (the CAR-T labels did in June 2025).
"""

from __future__ import annotations

CENTRE_MUST_CHECK = (
    "Default taken from the label copy cited; the centre must check it against the current "
    "label and its own protocol before use."
)
NOT_VERIFIED = (
    "The label's hospitalisation / monitoring advice could not be verified from a copy of the "
    "label: left empty. The centre must fill it in from the current label."
)

# The June 2025 class-wide label change for the autologous CD19/BCMA CAR-T products
# (FDA Safety Communication, 26 June 2025; clinical reference §6.2).
_CAR_T_2025 = {
    "hospitalisation_advice": (
        "Monitor at least 2 weeks after the infusion, daily for at least the first week; "
        "the patient stays near the treatment centre for 2 weeks and does not drive for "
        "2 weeks."
    ),
    "step_up_schedule": "Single infusion (day 0) after lymphodepleting chemotherapy.",
    "monitoring_window_hours": None,  # not a step-up product: see the advice above
    "label_document": "FDA Safety Communication: REMS eliminated, CAR-T labels updated",
    "label_version": "26 June 2025",
    "label_url": (
        "https://fda.einnews.com/pr_news/826043976/fda-eliminates-risk-evaluation-and-"
        "mitigation-strategies-rems-for-autologous-chimeric-antigen-receptor-car-t-cell-"
        "immunotherapies"
    ),
    "label_note": CENTRE_MUST_CHECK,
}


def _car_t(code, name, brand, target):
    return {
        "code": code,
        "name": name,
        "brand": brand,
        "product_class": "car_t",
        "target": target,
        **_CAR_T_2025,
    }


PRODUCTS: list[dict] = [
    _car_t("axi-cel", "Axicabtagene ciloleucel", "Yescarta", "CD19"),
    _car_t("tisa-cel", "Tisagenlecleucel", "Kymriah", "CD19"),
    _car_t("liso-cel", "Lisocabtagene maraleucel", "Breyanzi", "CD19"),
    _car_t("brexu-cel", "Brexucabtagene autoleucel", "Tecartus", "CD19"),
    _car_t("ide-cel", "Idecabtagene vicleucel", "Abecma", "BCMA"),
    _car_t("cilta-cel", "Ciltacabtagene autoleucel", "Carvykti", "BCMA"),
    {
        # Not among the six products of the June 2025 communication: its own label applies.
        "code": "obe-cel",
        "name": "Obecabtagene autoleucel",
        "brand": "Aucatzyl",
        "product_class": "car_t",
        "target": "CD19",
        "hospitalisation_advice": "",
        "step_up_schedule": (
            "Split dose: first infusion on day 1 and second on day 10 (± 2 days); the regimen "
            "follows the bone-marrow blast percentage before lymphodepletion."
        ),
        "monitoring_window_hours": None,
        "label_document": "AUCATZYL (obecabtagene autoleucel) prescribing information, "
        "Dosage (copy on Drugs.com)",
        "label_version": "copy updated 14 March 2025",
        "label_url": "https://drugs.com/dosage/aucatzyl.html",
        "label_note": NOT_VERIFIED + " " + CENTRE_MUST_CHECK,
    },
    {
        "code": "teclistamab",
        "name": "Teclistamab",
        "brand": "Tecvayli",
        "product_class": "t_cell_engager",
        "target": "BCMA",
        "hospitalisation_advice": (
            "Hospitalise for 48 hours after each dose of the step-up schedule (step-up doses "
            "1 and 2 and the first treatment dose)."
        ),
        "step_up_schedule": (
            "Step-up dose 1 0.06 mg/kg on day 1; step-up dose 2 0.3 mg/kg on day 4 (2 to 4 "
            "days after dose 1, up to 7); first treatment dose 1.5 mg/kg on day 7 (2 to 4 days "
            "after dose 2, up to 7); then 1.5 mg/kg weekly. Premedication before each dose of "
            "the step-up schedule."
        ),
        "monitoring_window_hours": 48,
        "label_document": "TECVAYLI (teclistamab-cqyv) prescribing information, section 2.1 "
        "(copy on Drugs.com)",
        "label_version": "copy updated 5 July 2024",
        "label_url": "http://drugs.com/dosage/tecvayli.html",
        "label_note": CENTRE_MUST_CHECK,
    },
    {
        "code": "elranatamab",
        "name": "Elranatamab",
        "brand": "Elrexfio",
        "product_class": "t_cell_engager",
        "target": "BCMA",
        "hospitalisation_advice": (
            "Hospitalise for 48 hours after step-up dose 1 and for 24 hours after step-up dose 2."
        ),
        "step_up_schedule": (
            "Step-up dose 1 12 mg on day 1; step-up dose 2 32 mg on day 4; first treatment "
            "dose 76 mg on day 8; then 76 mg weekly (every 2 weeks from week 25 in "
            "responders). Premedication before each dose of the step-up schedule."
        ),
        # The label's hours differ by dose (48 h, then 24 h): the longer one is the default;
        # the dosing helper's per-dose windows carry the difference.
        "monitoring_window_hours": 48,
        "label_document": "ELREXFIO (elranatamab-bcmm) prescribing information, sections 2.1 "
        "and 2.2 (FDA label copy on RxReasoner and PrescriberPoint)",
        "label_version": "2023 label (dosage sections revised 7/2025: check)",
        "label_url": "https://rxreasoner.com/monographs/elrexfio/usage",
        "label_note": CENTRE_MUST_CHECK,
    },
    {
        "code": "talquetamab",
        "name": "Talquetamab",
        "brand": "Talvey",
        "product_class": "t_cell_engager",
        "target": "GPRC5D",
        "hospitalisation_advice": (
            "Hospitalise for 48 hours after each dose of the step-up schedule."
        ),
        "step_up_schedule": (
            "Weekly: 0.01 mg/kg on day 1, 0.06 mg/kg on day 4, first treatment dose 0.4 mg/kg "
            "on day 7, then weekly. Every 2 weeks: 0.01, 0.06 and 0.4 mg/kg on days 1, 4 and "
            "7, first treatment dose 0.8 mg/kg on day 10, then every 2 weeks. Premedication "
            "before each dose of the step-up schedule."
        ),
        "monitoring_window_hours": 48,
        "label_document": "TALVEY (talquetamab-tgvs) prescribing information, sections 2.1 and "
        "2.2 (copy on TheMeditary)",
        "label_version": "US label copy, undated",
        "label_url": "https://themeditary.com/dosage-information/talvey-injection-dosage-"
        "13892.html",
        "label_note": CENTRE_MUST_CHECK,
    },
    {
        "code": "linvoseltamab",
        "name": "Linvoseltamab",
        "brand": "Lynozyfic",
        "product_class": "t_cell_engager",
        "target": "BCMA",
        "hospitalisation_advice": (
            "Hospitalise for 24 hours after step-up dose 1 and for 24 hours after step-up dose 2."
        ),
        "step_up_schedule": (
            "Step-up dose 1 5 mg on day 1; step-up dose 2 25 mg on day 8; first treatment "
            "dose 200 mg on day 15; then 200 mg weekly for 10 doses, then every 2 weeks."
        ),
        "monitoring_window_hours": 24,
        "label_document": "LYNOZYFIC (linvoseltamab-gcpt) prescribing information, section 2 "
        "(copy on Drugs.com)",
        "label_version": "copy updated 2 July 2025",
        "label_url": "https://www.drugs.com/dosage/lynozyfic.html",
        "label_note": CENTRE_MUST_CHECK,
    },
    {
        "code": "epcoritamab",
        "name": "Epcoritamab",
        "brand": "Epkinly",
        "product_class": "t_cell_engager",
        "target": "CD20",
        "hospitalisation_advice": (
            "DLBCL / high-grade B-cell lymphoma: hospitalise for 24 hours after the first full "
            "48 mg dose (cycle 1 day 15). Follicular lymphoma: not verified."
        ),
        "step_up_schedule": (
            "28-day cycles. DLBCL: 0.16 mg on cycle 1 day 1, 0.8 mg on day 8, first full dose "
            "48 mg on day 15, 48 mg on day 22. Follicular lymphoma: 0.16 mg, 0.8 mg and 3 mg on "
            "days 1, 8 and 15, first full dose 48 mg on day 22."
        ),
        "monitoring_window_hours": 24,
        "label_document": "EPKINLY (epcoritamab-bysp) prescribing information, section 2 "
        "(DailyMed copy on FDA.report; Medscape summary of the hospitalisation)",
        "label_version": "DailyMed set d7836711-b677-412d-bf2d-0f7c8444103a",
        "label_url": "https://fda.report/DailyMed/d7836711-b677-412d-bf2d-0f7c8444103a",
        "label_note": CENTRE_MUST_CHECK,
    },
    {
        "code": "glofitamab",
        "name": "Glofitamab",
        "brand": "Columvi",
        "product_class": "t_cell_engager",
        "target": "CD20",
        "hospitalisation_advice": "",
        "step_up_schedule": (
            "21-day cycles. Obinutuzumab 1000 mg on cycle 1 day 1 (pretreatment); step-up dose "
            "1 2.5 mg on day 8; step-up dose 2 10 mg on day 15; 30 mg on day 1 of cycles 2 to "
            "12."
        ),
        "monitoring_window_hours": None,
        "label_document": "COLUMVI (glofitamab-gxbm) prescribing information, section 2 "
        "(Medscape summary)",
        "label_version": "summary retrieved 2026",
        "label_url": "https://reference.medscape.com/drug/columvi-glofitamab-4000356",
        "label_note": NOT_VERIFIED + " " + CENTRE_MUST_CHECK,
    },
    {
        "code": "mosunetuzumab",
        "name": "Mosunetuzumab",
        "brand": "Lunsumio",
        "product_class": "t_cell_engager",
        "target": "CD20",
        "hospitalisation_advice": "",
        "step_up_schedule": (
            "21-day cycles. 1 mg on cycle 1 day 1, 2 mg on day 8, 60 mg on day 15; 60 mg on "
            "cycle 2 day 1; 30 mg on day 1 of cycle 3 onwards (8 cycles, or 17 without a "
            "complete response)."
        ),
        "monitoring_window_hours": None,
        "label_document": "LUNSUMIO (mosunetuzumab-axgb) prescribing information, section 2 "
        "(copy on Drugs.com)",
        "label_version": "copy updated 22 December 2022",
        "label_url": "http://www.drugs.com/dosage/lunsumio-injection.html",
        "label_note": NOT_VERIFIED + " " + CENTRE_MUST_CHECK,
    },
    {
        "code": "tarlatamab",
        "name": "Tarlatamab",
        "brand": "Imdelltra",
        "product_class": "t_cell_engager",
        "target": "DLL3",
        "hospitalisation_advice": (
            "Monitor in an appropriate healthcare setting for 22 to 24 hours from the start of "
            "the cycle 1 day 1 and day 8 infusions; the patient stays within 1 hour of the "
            "facility with a caregiver for 48 hours from the start of those infusions."
        ),
        "step_up_schedule": (
            "1 mg on cycle 1 day 1; 10 mg on day 8 and day 15; then 10 mg every 2 weeks."
        ),
        "monitoring_window_hours": 24,
        "label_document": "IMDELLTRA (tarlatamab-dlle) prescribing information, section 2 "
        "(formulary copy; label on FDA.report)",
        "label_version": "label revised 11/2025",
        "label_url": "https://fda.report/DailyMed/1e7b6163-5d83-42ea-82c9-cf7620cdc782",
        "label_note": CENTRE_MUST_CHECK,
    },
    {
        "code": "blinatumomab",
        "name": "Blinatumomab",
        "brand": "Blincyto",
        "product_class": "t_cell_engager",
        "target": "CD19",
        "hospitalisation_advice": (
            "Relapsed/refractory ALL: hospitalise for the first 9 days of cycle 1 and the "
            "first 2 days of cycle 2. MRD-positive ALL and Ph-negative consolidation: the "
            "first 3 days of cycle 1 and the first 2 days of cycle 2. Supervision or "
            "hospitalisation at later cycle starts and after an interruption of 4 hours or "
            "more."
        ),
        "step_up_schedule": (
            "Continuous infusion. Relapsed/refractory (≥ 45 kg): 9 µg/day on days 1 to 7, then "
            "28 µg/day on days 8 to 28 of cycle 1; 28 µg/day in later cycles. MRD-positive: "
            "28 µg/day from day 1."
        ),
        # 9 days for relapsed/refractory ALL; 3 days for MRD-positive: the longer by default.
        "monitoring_window_hours": 216,
        "label_document": "BLINCYTO (blinatumomab) prescribing information, section 2 (copy on "
        "Drugs.com; blincytohcp.com)",
        "label_version": "copy updated 5 May 2025",
        "label_url": "https://blincytohcp.com/rr/dosing/administration",
        "label_note": CENTRE_MUST_CHECK,
    },
    {
        "code": "afami-cel",
        "name": "Afamitresgene autoleucel",
        "brand": "Tecelra",
        "product_class": "tcr_t",
        "target": "MAGE-A4",
        "hospitalisation_advice": (
            "Monitor at the healthcare facility for at least 7 days after the infusion, then "
            "for CRS for at least 4 weeks."
        ),
        "step_up_schedule": "Single infusion (day 0) after lymphodepleting chemotherapy.",
        "monitoring_window_hours": None,
        "label_document": "TECELRA (afamitresgene autoleucel) prescribing information, "
        "section 5.1 (copy on BlackBoxRx)",
        "label_version": "August 2024",
        "label_url": "https://blackboxrx.com/warning/808",
        "label_note": CENTRE_MUST_CHECK,
    },
    {
        "code": "other",
        "name": "Other / investigational",
        "brand": "",
        "product_class": "other",
        "target": "",
        "hospitalisation_advice": "",
        "step_up_schedule": "",
        "monitoring_window_hours": None,
        "label_document": "",
        "label_version": "",
        "label_url": "",
        "label_note": "Courses name the product in “other product”; follow its protocol.",
    },
]

PRODUCT_CODES = [row["code"] for row in PRODUCTS]
