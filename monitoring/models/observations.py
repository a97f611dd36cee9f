"""Clinical records of a bedside check.

Units live in field names (``temp_c``, ``sbp_mmhg``); plausibility ranges are database
constraints so that no write path — form, service, shell or admin — can store an impossible value.
Records are append-only: a correction is a new record that amends the old one (see
``Observation``); derived values (ICE/CAPD totals) are computed in ``services`` from ``grading``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring import flag_rules
from monitoring.models.constraints import all_or_none, range_constraint
from monitoring.models.courses import BedsideCheck
from monitoring.models.records import AmendableRecord, RecordQuerySet


class ObservationQuerySet(RecordQuerySet):
    def latest_at(self, course, at):
        """The course's current record observed at or before ``at`` (its check joined), or None.

        What carries forward to an entry at ``at``: the same record ``timeline._Series.latest``
        grades from (latest clinical time, then latest saved). Used by the check page.
        """
        return (
            self.current()
            .filter(check_entry__course=course, check_entry__observed_at__lte=at)
            .select_related("check_entry")
            .order_by("-check_entry__observed_at", "-pk")
            .first()
        )


class Observation(AmendableRecord):
    """A record of a bedside check; the clinical time is the check's ``observed_at``.

    Clinical values are never edited in place (``AmendableRecord``): a correction is a new
    record that ``amends`` the old one (with who, when and why); the old one is kept, marked
    superseded, and shown struck through. A record made by mistake is marked entered in error,
    with a reason.
    """

    check_entry = models.ForeignKey(BedsideCheck, models.PROTECT, related_name="%(class)s_set")

    objects = ObservationQuerySet.as_manager()

    class Meta(AmendableRecord.Meta):
        abstract = True

    def audit_label(self) -> str:
        return (
            f"{super().audit_label()} of "
            f"{timezone.localtime(self.check_entry.observed_at):%Y-%m-%d %H:%M}"
        )


# field -> (low, high): physiologically possible values, shared by the constraints and the forms.
VITAL_RANGES = {
    "temp_c": (30, 45),
    "heart_rate_bpm": (20, 300),
    "resp_rate_per_min": (2, 80),
    "sbp_mmhg": (40, 300),
    "dbp_mmhg": (15, 200),
    "spo2_pct": (50, 100),
    "oxygen_flow_l_min": (0, 80),
    "vasopressors_count": (0, 5),
}


class VitalSigns(Observation):
    class Oxygen(models.TextChoices):
        # Values match monitoring.grading's Oxygen enum (ASTCT hypoxia domain).
        ROOM_AIR = "room_air", _("Room air")
        BLOW_BY = "blow_by", _("Blow-by")
        LOW_FLOW = "low_flow", _("Low-flow nasal cannula")
        HIGH_FLOW = "high_flow", _("High-flow nasal cannula")
        FACEMASK = "facemask", _("Face mask")
        NONREBREATHER = "nonrebreather", _("Non-rebreather mask")
        VENTURI = "venturi", _("Venturi mask")
        CPAP = "cpap", "CPAP"
        BIPAP = "bipap", "BiPAP"
        MECHANICAL_VENTILATION = "mechanical_ventilation", _("Mechanical ventilation")

    temp_c = models.DecimalField(
        _("temperature (°C)"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    heart_rate_bpm = models.PositiveSmallIntegerField(_("heart rate (/min)"), null=True, blank=True)
    resp_rate_per_min = models.PositiveSmallIntegerField(
        _("respiratory rate (/min)"), null=True, blank=True
    )
    sbp_mmhg = models.PositiveSmallIntegerField(_("systolic BP (mmHg)"), null=True, blank=True)
    dbp_mmhg = models.PositiveSmallIntegerField(_("diastolic BP (mmHg)"), null=True, blank=True)
    spo2_pct = models.PositiveSmallIntegerField(_("SpO₂ (%)"), null=True, blank=True)
    # Blank: not recorded (a caller that sends vitals without it never means room air); the
    # oxygen and vasopressors then carry forward from the last record that said (timeline).
    oxygen_support = models.CharField(max_length=24, choices=Oxygen.choices, blank=True)
    oxygen_flow_l_min = models.DecimalField(
        _("oxygen flow (L/min)"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    # ASTCT counts vasopressors for "multiple" without vasopressin (reference §1.2.7).
    vasopressors_count = models.PositiveSmallIntegerField(
        _("vasopressors running (not counting vasopressin)"), default=0
    )
    vasopressin = models.BooleanField(_("vasopressin running"), default=False)
    # Positive pressure only to protect the airway (or for a procedure), not for hypoxia, is not
    # counted as CRS hypoxia; a clinician confirms (reference §1.2.8, §1.5.6, §9 item 4).
    oxygen_for_airway_protection = models.BooleanField(
        _("positive pressure for airway protection only, not hypoxia"), default=False
    )

    POSITIVE_PRESSURE = (Oxygen.CPAP, Oxygen.BIPAP, Oxygen.MECHANICAL_VENTILATION)

    class Meta(Observation.Meta):
        verbose_name_plural = _("vital signs")
        constraints = [
            *Observation.Meta.constraints,
            *[range_constraint("vitals", f, low, high) for f, (low, high) in VITAL_RANGES.items()],
            models.CheckConstraint(
                condition=Q(sbp_mmhg__isnull=True)
                | Q(dbp_mmhg__isnull=True)
                | Q(dbp_mmhg__lt=F("sbp_mmhg")),
                name="vitals_dbp_below_sbp",
                violation_error_message="Diastolic pressure must be below systolic pressure.",
            ),
            models.CheckConstraint(
                condition=~Q(oxygen_support__in=["room_air", ""])
                | Q(oxygen_flow_l_min__isnull=True),
                name="vitals_no_flow_on_room_air",
                violation_error_message="An oxygen flow cannot be given on room air.",
            ),
            # Only positive pressure can be "for airway protection" (reference §1.2.8).
            models.CheckConstraint(
                condition=Q(oxygen_for_airway_protection=False)
                | Q(oxygen_support__in=["cpap", "bipap", "mechanical_ventilation"]),
                name="vitals_airway_protection_on_positive_pressure",
                violation_error_message=(
                    "Airway protection only applies to CPAP, BiPAP or mechanical ventilation."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Vital signs at {self.check_entry.observed_at:%Y-%m-%d %H:%M}"

    @property
    def oxygen_label(self) -> str:
        # As get_oxygen_support_display() reads it, without rebuilding the choices mapping at
        # every call (the engine reads this label at every check with oxygen: a tenth of
        # seeding a demo hospital went there).
        device = _OXYGEN_LABELS.get(self.oxygen_support, self.oxygen_support)
        label = str(device) if device else gettext("oxygen not recorded")
        if self.oxygen_flow_l_min is not None:
            label += f" {self.oxygen_flow_l_min.normalize():f} L/min"
        if self.oxygen_for_airway_protection:
            label += " " + gettext("(airway protection only)")
        return label


# The devices' labels by value (lazy: each is read in the active language).
_OXYGEN_LABELS = dict(VitalSigns.Oxygen.choices)


class SymptomCheck(Observation):
    """The seed symptom lists; fatigue, headache and tremor are recorded but never graded."""

    fever = models.BooleanField(default=False)
    low_blood_pressure = models.BooleanField(default=False)
    fatigue = models.BooleanField(default=False)
    breathing_difficulty = models.BooleanField(default=False)
    confusion = models.BooleanField(default=False)
    headache = models.BooleanField(default=False)
    tremor = models.BooleanField(default=False)
    difficulty_speaking = models.BooleanField(default=False)
    other = models.CharField(_("other symptoms"), max_length=500, blank=True)

    CRS_SYMPTOMS = flag_rules.CRS_SYMPTOMS
    NEURO_SYMPTOMS = flag_rules.NEURO_SYMPTOMS

    def __str__(self) -> str:
        return f"Symptoms at {self.check_entry.observed_at:%Y-%m-%d %H:%M}"

    def _labels(self, names) -> list[str]:
        return [str(self._meta.get_field(n).verbose_name) for n in names if getattr(self, n)]

    @property
    def crs_symptoms(self) -> list[str]:
        return self._labels(self.CRS_SYMPTOMS)

    @property
    def neuro_symptoms(self) -> list[str]:
        return self._labels(self.NEURO_SYMPTOMS)


ICE_ITEM_FIELDS = ["ice_orientation", "ice_naming", "ice_commands", "ice_writing", "ice_attention"]
CAPD_ITEM_FIELDS = [f"capd_item_{n}" for n in range(1, 9)]


class NeuroAssessment(Observation):
    """ICE (age ≥ 12) or CAPD (age < 12) plus the other ASTCT ICANS domains (reference §2)."""

    class Consciousness(models.TextChoices):
        ALERT = "alert", _("Alert")
        SPONTANEOUS = "awakens_spontaneously", _("Drowsy, awakens spontaneously")
        VOICE = "awakens_to_voice", _("Awakens to voice")
        TOUCH = "awakens_to_touch", _("Awakens only to touch")
        UNAROUSABLE = "unarousable", _("Unarousable / stupor / coma")

    class Seizure(models.TextChoices):
        NONE = "none", _("None")
        RESOLVED_RAPIDLY = "resolved_rapidly", _("Seizure that resolved rapidly")
        PROLONGED = "prolonged_or_repetitive", _("Prolonged (> 5 min) or repetitive seizures")

    class MotorWeakness(models.TextChoices):
        NONE = "none", _("None")
        DEEP_FOCAL = "deep_focal", _("Deep focal weakness (hemi-/paraparesis)")

    class ConsciousnessCause(models.TextChoices):
        # Values match monitoring.grading's ConsciousnessCause (reference §2.2 footnote †).
        SEDATION = "sedation", _("Sedation (sedating medication)")
        POST_ICTAL = "post_ictal", _("Post-ictal (after a seizure)")
        OTHER = "other", _("Other cause (say which)")

    class CerebralEdema(models.TextChoices):
        NONE = "none", _("None")
        FOCAL = "focal", _("Focal/local oedema on imaging")
        DIFFUSE = "diffuse", _("Diffuse oedema, posturing, CN VI palsy, papilloedema or Cushing's")

    # ICE items (points scored): orientation 0-4, naming 0-3, commands/writing/attention 0-1.
    ice_orientation = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_naming = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_commands = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_writing = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_attention = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_total = models.PositiveSmallIntegerField(
        _("ICE score"), null=True, blank=True, editable=False
    )
    # CAPD items store the answer as ticked (0 never … 4 always); items 1-4 score reversed.
    capd_item_1 = models.PositiveSmallIntegerField(null=True, blank=True)
    capd_item_2 = models.PositiveSmallIntegerField(null=True, blank=True)
    capd_item_3 = models.PositiveSmallIntegerField(null=True, blank=True)
    capd_item_4 = models.PositiveSmallIntegerField(null=True, blank=True)
    capd_item_5 = models.PositiveSmallIntegerField(null=True, blank=True)
    capd_item_6 = models.PositiveSmallIntegerField(null=True, blank=True)
    capd_item_7 = models.PositiveSmallIntegerField(null=True, blank=True)
    capd_item_8 = models.PositiveSmallIntegerField(null=True, blank=True)
    capd_total = models.PositiveSmallIntegerField(
        _("CAPD score"), null=True, blank=True, editable=False
    )
    consciousness = models.CharField(
        _("level of consciousness"), max_length=24, choices=Consciousness.choices
    )
    # ASTCT grades depressed consciousness only when it is not attributable to another cause
    # (reference §2.2 †); the reference asks for sedation and the attribution (§9 items 4, 7).
    consciousness_attributable_to = models.CharField(
        _("depressed consciousness attributable to"),
        max_length=16,
        choices=ConsciousnessCause.choices,
        blank=True,
    )
    consciousness_other_cause = models.CharField(_("other cause"), max_length=200, blank=True)
    seizure = models.CharField(max_length=24, choices=Seizure.choices, default=Seizure.NONE)
    motor_weakness = models.CharField(
        max_length=16, choices=MotorWeakness.choices, default=MotorWeakness.NONE
    )
    cerebral_edema = models.CharField(
        _("raised ICP / cerebral oedema"),
        max_length=16,
        choices=CerebralEdema.choices,
        default=CerebralEdema.NONE,
    )
    unable_to_assess_reason = models.CharField(
        _("ICE/CAPD not possible because"), max_length=200, blank=True
    )

    class Meta(Observation.Meta):
        constraints = [
            *Observation.Meta.constraints,
            range_constraint("neuro", "ice_orientation", 0, 4),
            range_constraint("neuro", "ice_naming", 0, 3),
            range_constraint("neuro", "ice_commands", 0, 1),
            range_constraint("neuro", "ice_writing", 0, 1),
            range_constraint("neuro", "ice_attention", 0, 1),
            range_constraint("neuro", "ice_total", 0, 10),
            *[range_constraint("neuro", f, 0, 4) for f in CAPD_ITEM_FIELDS],
            range_constraint("neuro", "capd_total", 0, 32),
            models.CheckConstraint(
                condition=all_or_none([*ICE_ITEM_FIELDS, "ice_total"]), name="neuro_ice_complete"
            ),
            models.CheckConstraint(
                condition=all_or_none([*CAPD_ITEM_FIELDS, "capd_total"]),
                name="neuro_capd_complete",
            ),
            # A patient is screened with ICE or with CAPD, never both (reference §2.3).
            models.CheckConstraint(
                condition=Q(ice_total__isnull=True) | Q(capd_total__isnull=True),
                name="neuro_ice_or_capd",
            ),
            # No score means a documented reason ("unable to assess").
            models.CheckConstraint(
                condition=Q(ice_total__isnull=False)
                | Q(capd_total__isnull=False)
                | ~Q(unable_to_assess_reason=""),
                name="neuro_score_or_reason",
            ),
            # "Other" names its cause; a text without "other" would be read as nothing.
            models.CheckConstraint(
                condition=(
                    Q(consciousness_attributable_to="other") & ~Q(consciousness_other_cause="")
                )
                | (~Q(consciousness_attributable_to="other") & Q(consciousness_other_cause="")),
                name="neuro_other_cause_named",
                violation_error_message="Name the other cause of the depressed consciousness.",
            ),
            # Only a depressed level of consciousness has a cause to attribute (reference §2.2 †).
            models.CheckConstraint(
                condition=Q(consciousness_attributable_to="") | ~Q(consciousness="alert"),
                name="neuro_cause_needs_depressed_consciousness",
                violation_error_message=(
                    "An alert patient has no depressed consciousness to attribute."
                ),
            ),
            # With another cause, the ICE/CAPD is not assessable: no score (issue 10 §2).
            models.CheckConstraint(
                condition=Q(consciousness_attributable_to="")
                | (Q(ice_total__isnull=True) & Q(capd_total__isnull=True)),
                name="neuro_cause_means_no_score",
                violation_error_message=(
                    "With depressed consciousness from another cause the ICE/CAPD is not "
                    "assessable: give no score."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Neuro assessment at {self.check_entry.observed_at:%Y-%m-%d %H:%M}"

    @property
    def consciousness_label(self) -> str:
        """The level of consciousness, and its other cause if it has one."""
        label = self.get_consciousness_display()
        cause = self.attributed_cause
        if cause:
            return gettext("%(level)s, attributed to %(cause)s") % {"level": label, "cause": cause}
        return label

    @property
    def attributed_cause(self) -> str:
        """What a depressed consciousness is put down to, in words; "" when not attributed."""
        return {
            self.ConsciousnessCause.SEDATION: gettext("sedation"),
            self.ConsciousnessCause.POST_ICTAL: gettext("a post-ictal state"),
            self.ConsciousnessCause.OTHER: self.consciousness_other_cause,
        }.get(self.consciousness_attributable_to, "")

    @property
    def score_label(self) -> str:
        if self.ice_total is not None:
            return f"ICE {self.ice_total}/10"
        if self.capd_total is not None:
            return f"CAPD {self.capd_total}/32"
        return gettext("not assessable")


# field -> (low, high): plausible analyser ranges, shared by the constraints and the forms.
LAB_RANGES = {
    "crp_mg_l": (0, 1000),
    "ferritin_ng_ml": (0, 500000),
    "il6_pg_ml": (0, 100000),
    "fibrinogen_mg_dl": (0, 2000),
    "d_dimer_ug_ml_feu": (0, 200),
    "ldh_u_l": (0, 50000),
    "anc_10e9_l": (0, 200),
    "platelets_10e9_l": (0, 2000),
    # Infection follow-up (issue 14 §3): absolute lymphocytes and serum IgG. Analyser-plausible
    # bounds, not normal ranges: lymphocytes 0-500 ×10⁹/L (CLL counts reach hundreds), IgG
    # 0-10,000 mg/dL (myeloma paraprotein can exceed 5,000).
    "lymphocytes_10e9_l": (0, 500),
    "igg_mg_dl": (0, 10000),
    "hemoglobin_g_dl": (0, 25),
    "creatinine_mg_dl": (0, 30),
    "alt_u_l": (0, 20000),
    "ast_u_l": (0, 20000),
    "bilirubin_mg_dl": (0, 60),
}


class LabResult(Observation):
    """Any subset of one draw; SI or customary units named in each field (reference §5.1)."""

    crp_mg_l = models.DecimalField(
        _("CRP (mg/L)"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    ferritin_ng_ml = models.DecimalField(
        _("ferritin (ng/mL)"), max_digits=8, decimal_places=0, null=True, blank=True
    )
    il6_pg_ml = models.DecimalField(
        _("IL-6 (pg/mL)"), max_digits=8, decimal_places=1, null=True, blank=True
    )
    fibrinogen_mg_dl = models.DecimalField(
        _("fibrinogen (mg/dL)"), max_digits=5, decimal_places=0, null=True, blank=True
    )
    d_dimer_ug_ml_feu = models.DecimalField(
        _("D-dimer (µg/mL FEU)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    ldh_u_l = models.DecimalField(
        _("LDH (U/L)"), max_digits=6, decimal_places=0, null=True, blank=True
    )
    anc_10e9_l = models.DecimalField(
        _("ANC (×10⁹/L)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    platelets_10e9_l = models.DecimalField(
        _("platelets (×10⁹/L)"), max_digits=5, decimal_places=0, null=True, blank=True
    )
    lymphocytes_10e9_l = models.DecimalField(
        _("lymphocytes (×10⁹/L)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    igg_mg_dl = models.DecimalField(
        _("IgG (mg/dL)"), max_digits=5, decimal_places=0, null=True, blank=True
    )
    hemoglobin_g_dl = models.DecimalField(
        _("haemoglobin (g/dL)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    creatinine_mg_dl = models.DecimalField(
        _("creatinine (mg/dL)"), max_digits=4, decimal_places=2, null=True, blank=True
    )
    alt_u_l = models.DecimalField(
        _("ALT (U/L)"), max_digits=6, decimal_places=0, null=True, blank=True
    )
    ast_u_l = models.DecimalField(
        _("AST (U/L)"), max_digits=6, decimal_places=0, null=True, blank=True
    )
    bilirubin_mg_dl = models.DecimalField(
        _("bilirubin (mg/dL)"), max_digits=4, decimal_places=1, null=True, blank=True
    )

    class Meta(Observation.Meta):
        constraints = [
            *Observation.Meta.constraints,
            *[range_constraint("lab", f, low, high) for f, (low, high) in LAB_RANGES.items()],
        ]

    def __str__(self) -> str:
        return f"Labs at {self.check_entry.observed_at:%Y-%m-%d %H:%M}"

    def values(self) -> list[tuple[str, Decimal]]:
        """(label, value) of the markers measured in this draw, in display order."""
        return [
            (str(self._meta.get_field(f).verbose_name), getattr(self, f))
            for f in LAB_RANGES
            if getattr(self, f) is not None
        ]


class Treatment(Observation):
    class Drug(models.TextChoices):
        TOCILIZUMAB = "tocilizumab", _("Tocilizumab")
        DEXAMETHASONE = "dexamethasone", _("Dexamethasone")
        METHYLPREDNISOLONE = "methylprednisolone", _("Methylprednisolone")
        ANAKINRA = "anakinra", _("Anakinra")
        SILTUXIMAB = "siltuximab", _("Siltuximab")
        ANTIPYRETIC = "antipyretic", _("Antipyretic (e.g. paracetamol)")
        LEVETIRACETAM = "levetiracetam", _("Levetiracetam")
        OTHER = "other", _("Other")

    class DoseUnit(models.TextChoices):
        MG = "mg", "mg"
        G = "g", "g"
        MCG = "mcg", "µg"
        UNITS = "units", _("units")

    class Route(models.TextChoices):
        IV = "iv", "IV"
        PO = "po", _("Oral")
        SC = "sc", _("Subcutaneous")
        IM = "im", _("Intramuscular")
        IT = "it", _("Intrathecal")
        PR = "pr", _("Rectal")

    # Which of these mask fever (ASTCT §1.2.2) is a grading rule: timeline.MASKING_DRUGS.

    drug = models.CharField(max_length=24, choices=Drug.choices)
    drug_other = models.CharField(_("other drug"), max_length=100, blank=True)
    dose = models.DecimalField(max_digits=7, decimal_places=2)
    dose_unit = models.CharField(max_length=8, choices=DoseUnit.choices, default=DoseUnit.MG)
    route = models.CharField(max_length=4, choices=Route.choices, default=Route.IV)

    class Meta(Observation.Meta):
        constraints = [
            *Observation.Meta.constraints,
            models.CheckConstraint(condition=Q(dose__gt=0), name="treatment_dose_positive"),
            models.CheckConstraint(
                condition=~Q(drug="other") | ~Q(drug_other=""), name="treatment_other_named"
            ),
        ]

    def __str__(self) -> str:
        dose = f"{self.dose.normalize():f}"  # 10 mg, not 10.00 mg
        return f"{self.drug_label} {dose} {self.get_dose_unit_display()} {self.get_route_display()}"

    @property
    def drug_label(self) -> str:
        return self.drug_other if self.drug == self.Drug.OTHER else self.get_drug_display()
