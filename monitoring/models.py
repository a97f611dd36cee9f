"""cartmonitor's clinical data model.

Units live in field names (``temp_c``, ``sbp_mmhg``); plausibility ranges are database
constraints so that no write path — form, service, shell or admin — can store an impossible value.
Clinical records are append-only: nothing here overrides ``save()`` or ``delete()``, and all
derived values (ICE/CAPD totals, grades) are computed in ``services.py`` from ``grading/``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from monitoring import flag_rules


def _between(field: str, low, high) -> Q:
    """NULL or within [low, high]: most measurements are optional, none may be implausible."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": low, f"{field}__lte": high})


def _all_or_none(fields: list[str]) -> Q:
    missing = Q(**{f"{f}__isnull": True for f in fields})
    return missing | Q(**{f"{f}__isnull": False for f in fields})


def _range_constraint(model: str, field: str, low, high) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=_between(field, low, high), name=f"{model}_{field}_plausible"
    )


class Unit(models.Model):
    """A ward or clinic; nurses and care teams see only the patients of their units."""

    name = models.CharField(max_length=100, unique=True)
    code = models.SlugField(max_length=20, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        NURSE = "nurse", "Nurse"
        CARE_TEAM = "care_team", "Care team"
        ADMIN = "admin", "Admin"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.NURSE)
    units = models.ManyToManyField(Unit, blank=True, related_name="members")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def sees_all_units(self) -> bool:
        return self.role == self.Role.ADMIN or self.is_superuser


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    # Patient URLs carry this, never the sequential primary key.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    mrn = models.CharField("MRN", max_length=32, unique=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=8, choices=Sex.choices)
    # Tocilizumab is dosed by weight (8 mg/kg; 12 mg/kg under 30 kg — reference §7.1).
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_kg__gte=Decimal("0.3"), weight_kg__lte=Decimal("350")),
                name="patient_weight_kg_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name} ({self.mrn})"

    def get_absolute_url(self) -> str:
        return reverse("monitoring:patient-course", args=[self.public_id])

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: date) -> float:
        """Age in years (fractional) on ``day``: ICE vs CAPD and paediatric hypotension need it."""
        whole = day.year - self.date_of_birth.year
        if (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day):
            whole -= 1
        anniversary = _add_years(self.date_of_birth, whole)
        next_anniversary = _add_years(self.date_of_birth, whole + 1)
        fraction = (day - anniversary).days / (next_anniversary - anniversary).days
        return whole + fraction

    def uses_capd_on(self, day: date) -> bool:
        """ASTCT/ASCO: CAPD under 12 years, ICE from the 12th birthday (reference §2.3)."""
        return self.age_on(day) < 12


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # born 29 February: the birthday is 1 March in non-leap years
        return date(day.year + years, 3, 1)


class TreatmentCourseQuerySet(models.QuerySet):
    def under_monitoring(self):
        return self.filter(status=TreatmentCourse.Status.MONITORING)

    def on_units(self, units):
        return self.filter(unit__in=units)


class TreatmentCourse(models.Model):
    """One CAR T-cell infusion and the monitoring that follows it; day 0 is the infusion date."""

    class Product(models.TextChoices):
        AXI_CEL = "axi-cel", "Axicabtagene ciloleucel (Yescarta)"
        TISA_CEL = "tisa-cel", "Tisagenlecleucel (Kymriah)"
        LISO_CEL = "liso-cel", "Lisocabtagene maraleucel (Breyanzi)"
        BREXU_CEL = "brexu-cel", "Brexucabtagene autoleucel (Tecartus)"
        IDE_CEL = "ide-cel", "Idecabtagene vicleucel (Abecma)"
        CILTA_CEL = "cilta-cel", "Ciltacabtagene autoleucel (Carvykti)"
        OBE_CEL = "obe-cel", "Obecabtagene autoleucel (Aucatzyl)"
        OTHER = "other", "Other / investigational"

    class Status(models.TextChoices):
        MONITORING = "monitoring", "Under monitoring"
        COMPLETED = "completed", "Monitoring completed"
        DISCONTINUED = "discontinued", "Monitoring discontinued"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, models.PROTECT, related_name="courses")
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="courses")
    product = models.CharField(max_length=16, choices=Product.choices)
    product_other = models.CharField(
        "other product", max_length=100, blank=True, help_text="Name of an investigational product"
    )
    indication = models.CharField(max_length=200)
    infused_at = models.DateTimeField("infused at (day 0)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.MONITORING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = TreatmentCourseQuerySet.as_manager()

    class Meta:
        ordering = ["-infused_at"]
        constraints = [
            # The nurse's check page resolves "the" course of a patient: one at a time.
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="monitoring"),
                name="one_monitored_course_per_patient",
            ),
            models.CheckConstraint(
                condition=~Q(product="other") | ~Q(product_other=""),
                name="course_other_product_named",
            ),
        ]
        indexes = [
            # Worklist: a unit's courses under monitoring.
            models.Index(fields=["unit", "status"], name="course_unit_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} — {self.product_label} (day 0 {self.infusion_date:%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        return reverse("monitoring:patient-course", args=[self.patient.public_id])

    @property
    def product_label(self) -> str:
        if self.product == self.Product.OTHER:
            return self.product_other
        return self.get_product_display()

    @property
    def infusion_date(self) -> date:
        return timezone.localdate(self.infused_at)

    def day_number(self, at: datetime | None = None) -> int:
        """Calendar days since the infusion date in the local zone (D+0 is the infusion day)."""
        return (timezone.localdate(at or timezone.now()) - self.infusion_date).days


class BedsideCheck(models.Model):
    """One submission at the bedside: the sections recorded together, at one clinical time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="checks")
    observed_at = models.DateTimeField(help_text="When the patient was assessed")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-observed_at"]
        indexes = [
            # Course page and state assembly: a course's checks in clinical order.
            models.Index(fields=["course", "observed_at"], name="check_course_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Check {self.observed_at:%Y-%m-%d %H:%M} for {self.course.patient}"


class Observation(models.Model):
    """Fields shared by every clinical record; the clinical time is the check's ``observed_at``."""

    check_entry = models.ForeignKey(BedsideCheck, models.PROTECT, related_name="%(class)s_set")

    class Meta:
        abstract = True


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
        ROOM_AIR = "room_air", "Room air"
        BLOW_BY = "blow_by", "Blow-by"
        LOW_FLOW = "low_flow", "Low-flow nasal cannula"
        HIGH_FLOW = "high_flow", "High-flow nasal cannula"
        FACEMASK = "facemask", "Face mask"
        NONREBREATHER = "nonrebreather", "Non-rebreather mask"
        VENTURI = "venturi", "Venturi mask"
        CPAP = "cpap", "CPAP"
        BIPAP = "bipap", "BiPAP"
        MECHANICAL_VENTILATION = "mechanical_ventilation", "Mechanical ventilation"

    temp_c = models.DecimalField(
        "temperature (°C)", max_digits=3, decimal_places=1, null=True, blank=True
    )
    heart_rate_bpm = models.PositiveSmallIntegerField("heart rate (/min)", null=True, blank=True)
    resp_rate_per_min = models.PositiveSmallIntegerField(
        "respiratory rate (/min)", null=True, blank=True
    )
    sbp_mmhg = models.PositiveSmallIntegerField("systolic BP (mmHg)", null=True, blank=True)
    dbp_mmhg = models.PositiveSmallIntegerField("diastolic BP (mmHg)", null=True, blank=True)
    spo2_pct = models.PositiveSmallIntegerField("SpO₂ (%)", null=True, blank=True)
    oxygen_support = models.CharField(
        max_length=24, choices=Oxygen.choices, default=Oxygen.ROOM_AIR
    )
    oxygen_flow_l_min = models.DecimalField(
        "oxygen flow (L/min)", max_digits=3, decimal_places=1, null=True, blank=True
    )
    # ASTCT counts vasopressors for "multiple" without vasopressin (reference §1.2.7).
    vasopressors_count = models.PositiveSmallIntegerField(
        "vasopressors running (not counting vasopressin)", default=0
    )
    vasopressin = models.BooleanField("vasopressin running", default=False)

    class Meta:
        verbose_name_plural = "vital signs"
        constraints = [
            *[_range_constraint("vitals", f, low, high) for f, (low, high) in VITAL_RANGES.items()],
            models.CheckConstraint(
                condition=Q(sbp_mmhg__isnull=True)
                | Q(dbp_mmhg__isnull=True)
                | Q(dbp_mmhg__lt=F("sbp_mmhg")),
                name="vitals_dbp_below_sbp",
                violation_error_message="Diastolic pressure must be below systolic pressure.",
            ),
            models.CheckConstraint(
                condition=~Q(oxygen_support="room_air") | Q(oxygen_flow_l_min__isnull=True),
                name="vitals_no_flow_on_room_air",
                violation_error_message="An oxygen flow cannot be given on room air.",
            ),
        ]

    def __str__(self) -> str:
        return f"Vital signs at {self.check_entry.observed_at:%Y-%m-%d %H:%M}"

    @property
    def oxygen_label(self) -> str:
        label = self.get_oxygen_support_display()
        if self.oxygen_flow_l_min is not None:
            label += f" {self.oxygen_flow_l_min.normalize():f} L/min"
        return label


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
    other = models.CharField("other symptoms", max_length=500, blank=True)

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
        ALERT = "alert", "Alert"
        SPONTANEOUS = "awakens_spontaneously", "Drowsy, awakens spontaneously"
        VOICE = "awakens_to_voice", "Awakens to voice"
        TOUCH = "awakens_to_touch", "Awakens only to touch"
        UNAROUSABLE = "unarousable", "Unarousable / stupor / coma"

    class Seizure(models.TextChoices):
        NONE = "none", "None"
        RESOLVED_RAPIDLY = "resolved_rapidly", "Seizure that resolved rapidly"
        PROLONGED = "prolonged_or_repetitive", "Prolonged (> 5 min) or repetitive seizures"

    class MotorWeakness(models.TextChoices):
        NONE = "none", "None"
        DEEP_FOCAL = "deep_focal", "Deep focal weakness (hemi-/paraparesis)"

    class CerebralEdema(models.TextChoices):
        NONE = "none", "None"
        FOCAL = "focal", "Focal/local oedema on imaging"
        DIFFUSE = "diffuse", "Diffuse oedema, posturing, CN VI palsy, papilloedema or Cushing's"

    # ICE items (points scored): orientation 0-4, naming 0-3, commands/writing/attention 0-1.
    ice_orientation = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_naming = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_commands = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_writing = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_attention = models.PositiveSmallIntegerField(null=True, blank=True)
    ice_total = models.PositiveSmallIntegerField("ICE score", null=True, blank=True, editable=False)
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
        "CAPD score", null=True, blank=True, editable=False
    )
    consciousness = models.CharField(
        "level of consciousness", max_length=24, choices=Consciousness.choices
    )
    seizure = models.CharField(max_length=24, choices=Seizure.choices, default=Seizure.NONE)
    motor_weakness = models.CharField(
        max_length=16, choices=MotorWeakness.choices, default=MotorWeakness.NONE
    )
    cerebral_edema = models.CharField(
        "raised ICP / cerebral oedema",
        max_length=16,
        choices=CerebralEdema.choices,
        default=CerebralEdema.NONE,
    )
    unable_to_assess_reason = models.CharField(
        "ICE/CAPD not possible because", max_length=200, blank=True
    )

    class Meta:
        constraints = [
            _range_constraint("neuro", "ice_orientation", 0, 4),
            _range_constraint("neuro", "ice_naming", 0, 3),
            _range_constraint("neuro", "ice_commands", 0, 1),
            _range_constraint("neuro", "ice_writing", 0, 1),
            _range_constraint("neuro", "ice_attention", 0, 1),
            _range_constraint("neuro", "ice_total", 0, 10),
            *[_range_constraint("neuro", f, 0, 4) for f in CAPD_ITEM_FIELDS],
            _range_constraint("neuro", "capd_total", 0, 32),
            models.CheckConstraint(
                condition=_all_or_none([*ICE_ITEM_FIELDS, "ice_total"]), name="neuro_ice_complete"
            ),
            models.CheckConstraint(
                condition=_all_or_none([*CAPD_ITEM_FIELDS, "capd_total"]),
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
        ]

    def __str__(self) -> str:
        return f"Neuro assessment at {self.check_entry.observed_at:%Y-%m-%d %H:%M}"

    @property
    def score_label(self) -> str:
        if self.ice_total is not None:
            return f"ICE {self.ice_total}/10"
        if self.capd_total is not None:
            return f"CAPD {self.capd_total}/32"
        return "not assessable"


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
    "hemoglobin_g_dl": (0, 25),
    "creatinine_mg_dl": (0, 30),
    "alt_u_l": (0, 20000),
    "ast_u_l": (0, 20000),
    "bilirubin_mg_dl": (0, 60),
}


class LabResult(Observation):
    """Any subset of one draw; SI or customary units named in each field (reference §5.1)."""

    crp_mg_l = models.DecimalField(
        "CRP (mg/L)", max_digits=6, decimal_places=1, null=True, blank=True
    )
    ferritin_ng_ml = models.DecimalField(
        "ferritin (ng/mL)", max_digits=8, decimal_places=0, null=True, blank=True
    )
    il6_pg_ml = models.DecimalField(
        "IL-6 (pg/mL)", max_digits=8, decimal_places=1, null=True, blank=True
    )
    fibrinogen_mg_dl = models.DecimalField(
        "fibrinogen (mg/dL)", max_digits=5, decimal_places=0, null=True, blank=True
    )
    d_dimer_ug_ml_feu = models.DecimalField(
        "D-dimer (µg/mL FEU)", max_digits=5, decimal_places=2, null=True, blank=True
    )
    ldh_u_l = models.DecimalField(
        "LDH (U/L)", max_digits=6, decimal_places=0, null=True, blank=True
    )
    anc_10e9_l = models.DecimalField(
        "ANC (×10⁹/L)", max_digits=5, decimal_places=2, null=True, blank=True
    )
    platelets_10e9_l = models.DecimalField(
        "platelets (×10⁹/L)", max_digits=5, decimal_places=0, null=True, blank=True
    )
    hemoglobin_g_dl = models.DecimalField(
        "haemoglobin (g/dL)", max_digits=4, decimal_places=1, null=True, blank=True
    )
    creatinine_mg_dl = models.DecimalField(
        "creatinine (mg/dL)", max_digits=4, decimal_places=2, null=True, blank=True
    )
    alt_u_l = models.DecimalField(
        "ALT (U/L)", max_digits=6, decimal_places=0, null=True, blank=True
    )
    ast_u_l = models.DecimalField(
        "AST (U/L)", max_digits=6, decimal_places=0, null=True, blank=True
    )
    bilirubin_mg_dl = models.DecimalField(
        "bilirubin (mg/dL)", max_digits=4, decimal_places=1, null=True, blank=True
    )

    class Meta:
        constraints = [
            _range_constraint("lab", f, low, high) for f, (low, high) in LAB_RANGES.items()
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
        TOCILIZUMAB = "tocilizumab", "Tocilizumab"
        DEXAMETHASONE = "dexamethasone", "Dexamethasone"
        METHYLPREDNISOLONE = "methylprednisolone", "Methylprednisolone"
        ANAKINRA = "anakinra", "Anakinra"
        SILTUXIMAB = "siltuximab", "Siltuximab"
        ANTIPYRETIC = "antipyretic", "Antipyretic (e.g. paracetamol)"
        LEVETIRACETAM = "levetiracetam", "Levetiracetam"
        OTHER = "other", "Other"

    class DoseUnit(models.TextChoices):
        MG = "mg", "mg"
        G = "g", "g"
        MCG = "mcg", "µg"
        UNITS = "units", "units"

    class Route(models.TextChoices):
        IV = "iv", "IV"
        PO = "po", "Oral"
        SC = "sc", "Subcutaneous"
        IM = "im", "Intramuscular"
        IT = "it", "Intrathecal"
        PR = "pr", "Rectal"

    # ASTCT: once CRS is treated with antipyretic or anti-cytokine therapy, fever is no longer
    # required to grade it (reference §1.2.2). Levetiracetam does not mask fever.
    FEVER_MASKING = (
        "tocilizumab",
        "dexamethasone",
        "methylprednisolone",
        "anakinra",
        "siltuximab",
        "antipyretic",
    )

    drug = models.CharField(max_length=24, choices=Drug.choices)
    drug_other = models.CharField("other drug", max_length=100, blank=True)
    dose = models.DecimalField(max_digits=7, decimal_places=2)
    dose_unit = models.CharField(max_length=8, choices=DoseUnit.choices, default=DoseUnit.MG)
    route = models.CharField(max_length=4, choices=Route.choices, default=Route.IV)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(dose__gt=0), name="treatment_dose_positive"),
            models.CheckConstraint(
                condition=~Q(drug="other") | ~Q(drug_other=""), name="treatment_other_named"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.drug_label} {self.dose:g} {self.dose_unit} {self.get_route_display()}"

    @property
    def drug_label(self) -> str:
        return self.drug_other if self.drug == self.Drug.OTHER else self.get_drug_display()


class GradeSnapshot(models.Model):
    """The ASTCT grades of a course at one check's moment, with the inputs that produced them.

    Recomputed when a late entry changes the state it was graded on; never because a rule or a
    protocol changed later (``rule_version`` says which rules produced it).
    """

    check_entry = models.OneToOneField(BedsideCheck, models.PROTECT, related_name="snapshot")
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="snapshots")
    observed_at = models.DateTimeField()
    # NULL: nothing to grade yet (no vital signs / no neuro assessment so far in the course).
    crs_grade = models.PositiveSmallIntegerField("CRS grade", null=True, blank=True)
    crs_reasons = models.JSONField(default=list)
    crs_needs_review = models.BooleanField(default=False)
    icans_grade = models.PositiveSmallIntegerField("ICANS grade", null=True, blank=True)
    icans_reasons = models.JSONField(default=list)
    icans_needs_review = models.BooleanField(default=False)
    review_reasons = models.JSONField(default=list)
    news2_total = models.PositiveSmallIntegerField("NEWS2", null=True, blank=True)
    news2_risk = models.CharField(max_length=16, blank=True)
    inputs = models.JSONField(default=dict)
    rule_version = models.CharField(max_length=32)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            _range_constraint("snapshot", "crs_grade", 0, 4),
            _range_constraint("snapshot", "icans_grade", 0, 4),
        ]
        indexes = [
            # Regrade path: a course's snapshots after a late entry's time.
            models.Index(fields=["course", "observed_at"], name="snapshot_course_time_idx"),
        ]

    def __str__(self) -> str:
        return f"CRS {self.crs_grade} / ICANS {self.icans_grade} at {self.observed_at:%Y-%m-%d}"

    @property
    def needs_review(self) -> bool:
        return self.crs_needs_review or self.icans_needs_review


class FlagQuerySet(models.QuerySet):
    def unresolved(self):
        return self.exclude(status=Flag.Status.RESOLVED)


class Flag(models.Model):
    """Something a clinician should look at; open → acknowledged → resolved, never deleted."""

    class Kind(models.TextChoices):
        CRS = "crs", "CRS"
        ICANS = "icans", "ICANS"
        CRS_SYMPTOM = "crs_symptom", "CRS symptom"
        NEURO_SYMPTOM = "neuro_symptom", "Neurological symptom"
        VITAL_SIGN = "vital_sign", "Vital sign outside thresholds"
        MARKER = "marker", "Inflammatory marker"
        NEWS2 = "news2", "NEWS2"
        NEEDS_REVIEW = "needs_review", "Grade needs clinician review"

    class Severity(models.IntegerChoices):
        # Integers so that "most severe first" is a plain ORDER BY.
        INFO = 1, "Info"
        WARNING = 2, "Warning"
        URGENT = 3, "Urgent"
        CRITICAL = 4, "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="flags")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    message = models.CharField(max_length=500)
    snapshot = models.ForeignKey(
        GradeSnapshot, models.PROTECT, null=True, blank=True, related_name="flags"
    )
    raised_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledge_note = models.CharField(max_length=500, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolve_reason = models.CharField(max_length=500, blank=True)

    objects = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["-severity", "raised_at"]
        constraints = [
            # The same condition updates its open flag rather than raising a duplicate.
            models.UniqueConstraint(
                fields=["course", "kind"],
                condition=~Q(status="resolved"),
                name="one_unresolved_flag_per_kind",
            ),
        ]
        indexes = [
            # Flag board and worklist counts: unresolved flags of a course, by severity.
            models.Index(fields=["course", "status", "severity"], name="flag_course_status_idx"),
        ]

    def __str__(self) -> str:
        return f"[{self.get_severity_display()}] {self.message}"


class CourseStatus(models.Model):
    """Denormalised current state of a course, so worklists cost a constant number of queries.

    Written only by ``services`` in the same transaction as the records it summarises; the
    row is also what concurrent writers lock (``select_for_update``) to keep grades consistent.
    """

    course = models.OneToOneField(
        TreatmentCourse, models.CASCADE, primary_key=True, related_name="current"
    )
    latest_snapshot = models.ForeignKey(
        GradeSnapshot, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    crs_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    icans_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    needs_review = models.BooleanField(default=False)
    max_crs_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    max_icans_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    open_flag_count = models.PositiveIntegerField(default=0)
    worst_open_severity = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "course statuses"

    def __str__(self) -> str:
        return f"Status of {self.course_id}: CRS {self.crs_grade} / ICANS {self.icans_grade}"
