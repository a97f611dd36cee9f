"""Infection prevention per course (issue 14 §3): prophylaxis given, immunoglobulin replacement
and infections. IgG and blood counts are lab results (``LabResult``).

Like the bedside records these are never edited in place: a correction is a new row that
``amends`` the old one (with who, when and why) and a row made by mistake is marked entered in
error with a reason. Facts that arrive later — a prophylaxis stopped, a planned dose given, an
infection resolved — fill an empty field, through ``monitoring.infection`` (audited, old → new;
the history table keeps every version).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from monitoring.models.constraints import EARLIEST_DATE, LATEST_DATE, between
from monitoring.models.courses import TreatmentCourse
from monitoring.models.records import AmendableRecord

# Plausible amounts of one immunoglobulin dose: IVIG 0.4-0.5 g/kg reaches ~60 g at 120 kg
# (reference §4.6: 0.5 g/kg); weekly SCIG is a few grams. Larger is a typing slip.
IG_DOSE_G_RANGE = (1, 150)


class InfectionRecord(AmendableRecord):
    """An infection-prevention record of a course, amendable like a bedside record."""

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="%(class)s_set")

    class Meta(AmendableRecord.Meta):
        abstract = True

    def audit_label(self) -> str:
        return f"{super().audit_label()} ({self})"


def _dates(model: str, *fields: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=between(field, EARLIEST_DATE, LATEST_DATE), name=f"{model}_{field}_plausible"
        )
        for field in fields
    ]


class ProphylaxisCourse(InfectionRecord):
    """One prophylaxis item of the protocol's checklist, given from a date (until a date)."""

    # The checklist item's code on the course's protocol version (infection_rules).
    item = models.CharField(_("prophylaxis"), max_length=32)
    drug = models.CharField(_("drug and dose"), max_length=200)
    started_on = models.DateField(_("started on"))
    stopped_on = models.DateField(_("stopped on"), null=True, blank=True)
    # Why it stopped before its planned end; blank before the end means lapsed (flagged).
    stop_reason = models.CharField(_("why it stopped"), max_length=500, blank=True)

    class Meta(InfectionRecord.Meta):
        ordering = ["started_on", "pk"]
        constraints = [
            *InfectionRecord.Meta.constraints,
            *_dates("prophylaxis", "started_on", "stopped_on"),
            models.CheckConstraint(
                condition=Q(stopped_on__isnull=True) | Q(stopped_on__gte=F("started_on")),
                name="prophylaxis_stops_after_start",
                violation_error_message=_("A prophylaxis cannot stop before it started."),
            ),
            models.CheckConstraint(condition=~Q(drug=""), name="prophylaxis_drug_named"),
        ]

    def __str__(self) -> str:
        until = f" to {self.stopped_on:%Y-%m-%d}" if self.stopped_on else ""
        return f"{self.item}: {self.drug} from {self.started_on:%Y-%m-%d}{until}"


class ImmunoglobulinDose(InfectionRecord):
    """An immunoglobulin replacement dose, planned for a date and later given.

    A model of its own, not a ``Treatment``: a Treatment is a bedside record of a check's
    moment that CRS grading reads (masked fever, tocilizumab limits) and it cannot be planned
    ahead; a replacement is planned days ahead, given monthly, dosed in grams by weight, and
    plays no part in grading.
    """

    class Product(models.TextChoices):
        IVIG = "ivig", _("IVIG (intravenous)")
        SCIG = "scig", _("SCIG (subcutaneous)")

    product = models.CharField(_("product"), max_length=8, choices=Product.choices)
    dose_g = models.DecimalField(_("dose (g)"), max_digits=4, decimal_places=1)
    planned_for = models.DateField(_("planned for"))
    given_on = models.DateField(_("given on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta(InfectionRecord.Meta):
        ordering = ["planned_for", "pk"]
        constraints = [
            *InfectionRecord.Meta.constraints,
            *_dates("igdose", "planned_for", "given_on"),
            models.CheckConstraint(
                condition=between("dose_g", *IG_DOSE_G_RANGE), name="igdose_dose_g_plausible"
            ),
        ]

    def __str__(self) -> str:
        when = f"given {self.given_on:%Y-%m-%d}" if self.given_on else "planned"
        return f"{self.get_product_display()} {self.dose_g.normalize():f} g ({when})"

    @property
    def covers_from(self):
        """The date this dose counts from for the IgG rule: given, else planned."""
        return self.given_on or self.planned_for


class Infection(InfectionRecord):
    """An infection during the course: where, which organism, how severe, from and to when."""

    class Site(models.TextChoices):
        BLOODSTREAM = "bloodstream", _("Bloodstream")
        LOWER_RESPIRATORY = "lower_respiratory", _("Lower respiratory (pneumonia)")
        UPPER_RESPIRATORY = "upper_respiratory", _("Upper respiratory / sinus")
        URINARY = "urinary", _("Urinary tract")
        GASTROINTESTINAL = "gastrointestinal", _("Gastrointestinal")
        SKIN = "skin", _("Skin and soft tissue")
        CNS = "cns", _("Central nervous system")
        CATHETER = "catheter", _("Catheter / line")
        OTHER = "other", _("Other (say which)")

    class Organism(models.TextChoices):
        BACTERIAL = "bacterial", _("Bacterial")
        VIRAL = "viral", _("Viral")
        FUNGAL = "fungal", _("Fungal")
        OTHER = "other", _("Other")
        UNKNOWN = "unknown", _("Not identified")

    class Severity(models.IntegerChoices):
        # CTCAE v5.0 grades for infections (reference §5.1 grades organ toxicity by CTCAE).
        MILD = 1, _("Grade 1 – mild")
        MODERATE = 2, _("Grade 2 – moderate (oral treatment)")
        SEVERE = 3, _("Grade 3 – severe (IV treatment)")
        LIFE_THREATENING = 4, _("Grade 4 – life-threatening")
        FATAL = 5, _("Grade 5 – death")

    site = models.CharField(_("site"), max_length=24, choices=Site.choices)
    site_other = models.CharField(_("other site"), max_length=100, blank=True)
    organism_type = models.CharField(_("kind of organism"), max_length=12, choices=Organism.choices)
    organism = models.CharField(_("organism"), max_length=200, blank=True)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    onset_on = models.DateField(_("onset"))
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)

    class Meta(InfectionRecord.Meta):
        ordering = ["onset_on", "pk"]
        constraints = [
            *InfectionRecord.Meta.constraints,
            *_dates("infection", "onset_on", "resolved_on"),
            models.CheckConstraint(
                condition=between("severity", 1, 5), name="infection_severity_plausible"
            ),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=F("onset_on")),
                name="infection_resolves_after_onset",
                violation_error_message=_("An infection cannot resolve before its onset."),
            ),
            models.CheckConstraint(
                condition=~Q(site="other") | ~Q(site_other=""), name="infection_other_site_named"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_label}: {self.organism_label} from {self.onset_on:%Y-%m-%d}"

    @property
    def site_label(self) -> str:
        return self.site_other if self.site == self.Site.OTHER else self.get_site_display()

    @property
    def organism_label(self) -> str:
        kind = self.get_organism_type_display()
        return f"{self.organism} ({kind})" if self.organism else str(kind)
