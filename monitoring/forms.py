"""The bedside check: one page, five optional sections, validated together, saved together."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import capfirst

from monitoring import flag_rules, grading
from monitoring.models import (
    CAPD_ITEM_FIELDS,
    ICE_ITEM_FIELDS,
    LAB_RANGES,
    VITAL_RANGES,
    AuditEvent,
    CheckNotDone,
    CheckSchedule,
    CheckType,
    GradeConfirmation,
    LabResult,
    NeuroAssessment,
    ProtocolVersion,
    SymptomCheck,
    Treatment,
    TreatmentCourse,
    User,
    VitalSigns,
)

UNITS = {
    "temp_c": "°C",
    "heart_rate_bpm": "/min",
    "resp_rate_per_min": "/min",
    "sbp_mmhg": "mmHg",
    "dbp_mmhg": "mmHg",
    "spo2_pct": "%",
    "oxygen_flow_l_min": "L/min",
    "vasopressors_count": "",
    "crp_mg_l": "mg/L",
    "ferritin_ng_ml": "ng/mL",
    "il6_pg_ml": "pg/mL",
    "fibrinogen_mg_dl": "mg/dL",
    "d_dimer_ug_ml_feu": "µg/mL FEU",
    "ldh_u_l": "U/L",
    "anc_10e9_l": "×10⁹/L",
    "platelets_10e9_l": "×10⁹/L",
    "hemoglobin_g_dl": "g/dL",
    "creatinine_mg_dl": "mg/dL",
    "alt_u_l": "U/L",
    "ast_u_l": "U/L",
    "bilirubin_mg_dl": "mg/dL",
}


def range_validator(label: str, low, high, unit: str):
    """Refuse impossible values with the allowed range in the message."""

    def validate(value):
        if value is not None and not low <= value <= high:
            raise ValidationError(
                f"{label} must be between {low} and {high} {unit}".rstrip() + f" (got {value}).",
                code="out_of_range",
            )

    return validate


def _apply_ranges(form: forms.BaseForm, ranges: dict) -> None:
    for name, (low, high) in ranges.items():
        if name in form.fields:
            field = form.fields[name]
            label = str(field.label or name).split(" (")[0]
            label = label[:1].upper() + label[1:]  # "SpO₂", not capitalize()'s "Spo₂"
            field.validators.append(range_validator(label, low, high, UNITS.get(name, "")))
            field.widget.attrs.update({"min": low, "max": high, "inputmode": "decimal"})
            field.help_text = f"{low}–{high} {UNITS.get(name, '')}".strip()


def _refuse_non_finite(data):
    """ "NaN", "sNaN" or "Infinity" typed into a number box must fail as "Enter a number".

    Django's DecimalField.has_changed compares the carried-forward value with the posted one,
    and comparing with Decimal("sNaN") raises instead of returning False.
    """
    if data is None:
        return None

    def safe(value):
        try:
            finite = Decimal(str(value).strip()).is_finite()
        except (InvalidOperation, ValueError):
            finite = True  # not a number at all: the field itself refuses it
        return value if finite else "not a number"

    if not hasattr(data, "setlist"):  # a plain dict
        return {key: safe(value) for key, value in data.items()}
    data = data.copy()
    for key, values in data.lists():
        data.setlist(key, [safe(value) for value in values])
    return data


class SectionMixin:
    """A section counts only if the nurse entered something in it.

    Like a formset's extra form, an untouched section is ``empty_permitted``: it is neither
    validated nor saved. ``has_changed`` is narrowed to the fields that carry clinical content.
    """

    section_title = ""

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(
            _refuse_non_finite(data),
            *args,
            empty_permitted=True,
            use_required_attribute=False,
            **kwargs,
        )

    def content_fields(self) -> list[str]:
        return self.changed_data

    def has_changed(self) -> bool:
        return bool(self.content_fields())

    def _post_clean(self):
        # Every database constraint is mirrored by a field validator or a clean() rule whose
        # message names the allowed range, and the database enforces them on save. Skip
        # Django's re-check, which costs one query per constraint. (This instance is only
        # validated here; the service saves its own.)
        self.instance.validate_constraints = lambda exclude=None: None
        super()._post_clean()

    def model_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class ObservationTimeForm(forms.Form):
    observed_at = forms.DateTimeField(
        label="Observed at",
        help_text="When the patient was assessed — set it back for a late entry.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )

    def __init__(self, *args, course, **kwargs):
        super().__init__(*args, **kwargs)
        self.course = course
        self.fields["observed_at"].initial = timezone.localtime().replace(second=0, microsecond=0)

    def clean_observed_at(self):
        value = self.cleaned_data["observed_at"]
        if value > timezone.now() + timezone.timedelta(minutes=2):
            raise ValidationError("Observation time cannot be in the future.")
        return value


class VitalSignsForm(SectionMixin, forms.ModelForm):
    section_title = "Vital signs and support"
    temperature = forms.DecimalField(
        label="Temperature",
        required=False,
        max_digits=5,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )
    temperature_unit = forms.ChoiceField(
        label="Unit", choices=[("C", "°C"), ("F", "°F")], initial="C"
    )
    MEASURED = [
        "temperature",
        "heart_rate_bpm",
        "resp_rate_per_min",
        "sbp_mmhg",
        "dbp_mmhg",
        "spo2_pct",
    ]
    SUPPORT = ["oxygen_support", "oxygen_flow_l_min", "vasopressors_count", "vasopressin"]

    class Meta:
        model = VitalSigns
        fields = [
            "heart_rate_bpm",
            "resp_rate_per_min",
            "sbp_mmhg",
            "dbp_mmhg",
            "spo2_pct",
            "oxygen_support",
            "oxygen_flow_l_min",
            "vasopressors_count",
            "vasopressin",
        ]

    def __init__(self, *args, carried_forward=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in (
            "heart_rate_bpm",
            "resp_rate_per_min",
            "sbp_mmhg",
            "dbp_mmhg",
            "spo2_pct",
            "oxygen_flow_l_min",
        ):
            self.fields[name].required = False
        _apply_ranges(self, {k: v for k, v in VITAL_RANGES.items() if k != "temp_c"})
        self.fields["temperature"].help_text = "30–45 °C or 86–113 °F"
        self.fields[
            "vasopressors_count"
        ].help_text = (
            "Norepinephrine, epinephrine, phenylephrine, dopamine… — do not count vasopressin."
        )
        # Oxygen and vasopressors carry forward from the last entry: a temperature-only entry
        # must never silently switch a patient's oxygen off.
        if carried_forward is not None:
            for name in self.SUPPORT:
                self.initial[name] = getattr(carried_forward, name)

    def content_fields(self) -> list[str]:
        return [name for name in self.changed_data if name != "temperature_unit"]

    def clean(self):
        data = super().clean()
        temperature, unit = data.get("temperature"), data.get("temperature_unit")
        if temperature is not None:
            celsius = (temperature - 32) * 5 / 9 if unit == "F" else temperature
            celsius = Decimal(celsius).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            low, high = VITAL_RANGES["temp_c"]
            if not low <= celsius <= high:
                self.add_error(
                    "temperature",
                    f"Temperature must be between {low} and {high} °C "
                    f"(86 and 113 °F); got {temperature} °{unit}.",
                )
            data["temp_c"] = celsius
        else:
            data["temp_c"] = None
        support, flow = data.get("oxygen_support"), data.get("oxygen_flow_l_min")
        if support == VitalSigns.Oxygen.ROOM_AIR and flow is not None:
            self.add_error(
                "oxygen_flow_l_min",
                "An oxygen flow cannot be given on room air: choose the device, or clear the flow.",
            )
        if support in (VitalSigns.Oxygen.LOW_FLOW, VitalSigns.Oxygen.HIGH_FLOW) and flow is None:
            self.add_error(
                "oxygen_flow_l_min",
                "Give the flow in L/min: ASTCT grades nasal "
                "cannula oxygen by flow (≤ 6 L/min low flow, > 6 high flow).",
            )
        sbp, dbp = data.get("sbp_mmhg"), data.get("dbp_mmhg")
        if sbp is not None and dbp is not None and dbp >= sbp:
            self.add_error("dbp_mmhg", "Diastolic pressure must be below systolic pressure.")
        if not any(data.get(name) is not None for name in self.MEASURED) and not (
            set(self.changed_data) & set(self.SUPPORT)
        ):
            raise ValidationError("Vital signs: enter at least one measurement.")
        return data

    def model_values(self) -> dict:
        return {**super().model_values(), "temp_c": self.cleaned_data["temp_c"]}


class SymptomForm(SectionMixin, forms.ModelForm):
    section_title = "Symptoms"

    class Meta:
        model = SymptomCheck
        fields = [*SymptomCheck.CRS_SYMPTOMS, *SymptomCheck.NEURO_SYMPTOMS, "other"]
        labels = {
            "low_blood_pressure": "Low blood pressure / dizziness",
            "breathing_difficulty": "Breathing difficulty",
        }


ICE_CHOICES = {
    "ice_orientation": 4,
    "ice_naming": 3,
    "ice_commands": 1,
    "ice_writing": 1,
    "ice_attention": 1,
}
CAPD_ANSWERS = [(0, "Never"), (1, "Rarely"), (2, "Sometimes"), (3, "Often"), (4, "Always")]


class NeuroForm(SectionMixin, forms.ModelForm):
    """ICE for patients aged 12 and over, CAPD under 12 (ASTCT/ASCO, reference §2.3)."""

    section_title = "Neurological assessment"
    unable_to_assess = forms.BooleanField(
        label="Unable to perform ICE/CAPD",
        required=False,
        help_text="Sedated, intubated, language barrier… give the reason.",
    )

    class Meta:
        model = NeuroAssessment
        fields = [
            *ICE_ITEM_FIELDS,
            *CAPD_ITEM_FIELDS,
            "consciousness",
            "seizure",
            "motor_weakness",
            "cerebral_edema",
            "unable_to_assess_reason",
        ]

    def __init__(self, *args, capd: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.capd = capd
        self.score_fields = CAPD_ITEM_FIELDS if capd else ICE_ITEM_FIELDS
        for name in [*ICE_ITEM_FIELDS, *CAPD_ITEM_FIELDS]:
            if name not in self.score_fields:
                del self.fields[name]
        if capd:
            for name, (question) in zip(CAPD_ITEM_FIELDS, grading.CAPD_ITEMS, strict=True):
                self.fields[name] = forms.TypedChoiceField(
                    label=question,
                    choices=CAPD_ANSWERS,
                    coerce=int,
                    required=False,
                    empty_value=None,
                    widget=forms.RadioSelect,
                )
        else:
            for name, item in zip(ICE_ITEM_FIELDS, grading.ICE_ITEMS, strict=True):
                points = ICE_CHOICES[name]
                self.fields[name] = forms.TypedChoiceField(
                    label=f"{item.name.capitalize()} ({item.task})",
                    choices=[("", "—"), *[(n, f"{n}/{points}") for n in range(points + 1)]],
                    coerce=int,
                    required=False,
                    empty_value=None,
                )
        self.fields["consciousness"].required = False
        self.fields["consciousness"].choices = [("", "—"), *NeuroAssessment.Consciousness.choices]
        self.fields["unable_to_assess_reason"].required = False
        self.order_fields(
            [
                *self.score_fields,
                "unable_to_assess",
                "unable_to_assess_reason",
                "consciousness",
                "seizure",
                "motor_weakness",
                "cerebral_edema",
            ]
        )

    def content_fields(self) -> list[str]:
        # A select left on "none" says nothing; a score of 0 does.
        return [name for name in self.changed_data if self[name].value() not in ("", None, "none")]

    def clean(self):
        data = super().clean()
        scores = {name: data.get(name) for name in self.score_fields}
        missing = [self.fields[n].label.split(" (")[0] for n, v in scores.items() if v is None]
        tool = "CAPD" if self.capd else "ICE"
        if data.get("unable_to_assess"):
            if len(missing) < len(scores):
                raise ValidationError(
                    f"{tool} items were scored, so the patient was not "
                    "'unable to assess': clear one or the other."
                )
            if not data.get("unable_to_assess_reason"):
                self.add_error("unable_to_assess_reason", "Say why the screen was not possible.")
        elif missing:
            raise ValidationError(
                f"Complete every {tool} item, or tick 'unable to perform' "
                f"(missing: {', '.join(missing)})."
            )
        else:
            data["unable_to_assess_reason"] = ""
        if not data.get("consciousness"):
            self.add_error("consciousness", "Record the level of consciousness.")
        return data

    def model_values(self) -> dict:
        values = {
            name: self.cleaned_data.get(name) for name in self._meta.fields if name in self.fields
        }
        return values


class LabForm(SectionMixin, forms.ModelForm):
    section_title = "Labs and inflammatory markers"

    class Meta:
        model = LabResult
        fields = list(LAB_RANGES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
        _apply_ranges(self, LAB_RANGES)

    def clean(self):
        data = super().clean()
        if all(data.get(name) is None for name in LAB_RANGES):
            raise ValidationError("Labs: enter at least one result.")
        return data


class TreatmentForm(SectionMixin, forms.ModelForm):
    section_title = "Treatment given"

    class Meta:
        model = Treatment
        fields = ["drug", "drug_other", "dose", "dose_unit", "route"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["drug"].choices = [("", "—"), *Treatment.Drug.choices]
        self.fields["drug"].required = False
        self.fields["dose"].required = False
        self.fields["dose"].widget.attrs.update({"min": "0", "step": "any"})

    def content_fields(self) -> list[str]:
        return [name for name in self.changed_data if name in ("drug", "drug_other", "dose")]

    def clean(self):
        data = super().clean()
        if not data.get("drug"):
            self.add_error("drug", "Choose the drug given.")
        if data.get("dose") is None:
            self.add_error("dose", "Give the dose.")
        elif data["dose"] <= 0:
            self.add_error("dose", "The dose must be more than 0.")
        if data.get("drug") == Treatment.Drug.OTHER and not data.get("drug_other"):
            self.add_error("drug_other", "Name the drug.")
        return data


class CheckPage:
    """The sections of the bedside check page, bound together.

    Nothing is saved unless every filled section is valid; the page re-renders with every
    value the nurse typed.
    """

    SECTIONS = ("vitals", "symptoms", "neuro", "labs", "treatment")

    def __init__(self, data=None, *, course, capd: bool, carried_forward=None):
        self.course = course
        self.time = ObservationTimeForm(data, course=course)
        self.vitals = VitalSignsForm(data, prefix="vitals", carried_forward=carried_forward)
        self.symptoms = SymptomForm(data, prefix="symptoms")
        self.neuro = NeuroForm(data, prefix="neuro", capd=capd)
        self.labs = LabForm(data, prefix="labs")
        self.treatment = TreatmentForm(data, prefix="treatment")
        self.errors: list[str] = []

    @property
    def sections(self):
        return [(name, getattr(self, name)) for name in self.SECTIONS]

    def filled(self):
        return [(name, form) for name, form in self.sections if form.has_changed()]

    def is_valid(self) -> bool:
        valid = all([form.is_valid() for form in (self.time, *dict(self.sections).values())])
        if not self.filled():
            self.errors.append("Nothing to save: fill in at least one section.")
            return False
        return valid

    def values(self) -> dict:
        return {name: form.model_values() for name, form in self.filled()}

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.time.errors or any(f.errors for _, f in self.sections))

    def summary(self) -> list[str]:
        """One line per problem, naming its section, for the top of the page."""
        lines = list(self.errors)
        for error in self.time.errors.get("observed_at", []):
            lines.append(f"Observed at: {error}")
        for _, form in self.sections:
            for field, errors in form.errors.items():
                label = "" if field == "__all__" else f"{form.fields[field].label}: "
                lines.extend(f"{form.section_title} — {label}{error}" for error in errors)
        return lines

    def add_error(self, error: ValidationError) -> None:
        """Errors the service raised (after the forms passed) are shown at the top."""
        self.errors.extend(error.messages)


# ---------------------------------------------------------------------------------------------
# Protocols and corrections
# ---------------------------------------------------------------------------------------------

# field -> (low, high, unit) an admin may set. The database constrains window, SBP, SpO2,
# temperature and rise factor to the same ranges; the rate limits are the plausible vital-sign
# ranges, so that a typo (1300 for 130) is refused with the range instead of stored.
PROTOCOL_RANGES = {
    "monitoring_window_days": (1, 365, "days"),
    "sbp_low_mmhg": (40, 150, "mmHg"),
    "heart_rate_high": (*VITAL_RANGES["heart_rate_bpm"], "/min"),
    "heart_rate_low": (*VITAL_RANGES["heart_rate_bpm"], "/min"),
    "resp_rate_high": (*VITAL_RANGES["resp_rate_per_min"], "/min"),
    "resp_rate_low": (*VITAL_RANGES["resp_rate_per_min"], "/min"),
    "spo2_low_pct": (70, 99, "%"),
    "temperature_high_c": (Decimal("37.0"), Decimal("40.0"), "°C"),
    "marker_rise_factor": (Decimal("1.1"), Decimal("10.0"), "×"),
}
PROTOCOL_FIELDS = ["products", *PROTOCOL_RANGES, "is_active", "is_template"]
ESCALATION_DEFAULTS = {"crs": flag_rules.CRS_ESCALATION, "icans": flag_rules.ICANS_ESCALATION}
SCHEDULE_FIELDS = [
    "interval_minutes",
    "tightened_interval_minutes",
    "tighten_at_crs_grade",
    "tighten_at_icans_grade",
    "tighten_on_neuro_change",
]
# minutes; the same ranges as the database constraints on CheckSchedule
SCHEDULE_RANGES = {
    "interval_minutes": (15, 7 * 24 * 60),
    "tightened_interval_minutes": (5, 7 * 24 * 60),
}


def _add_range(field: forms.Field, label: str, low, high, unit: str) -> None:
    field.validators.append(range_validator(label, low, high, unit))
    field.widget.attrs.update({"min": low, "max": high})
    field.help_text = f"{low}–{high} {unit}".strip()


class ProtocolVersionForm(forms.Form):
    """The version-wide settings of a protocol; each check type's schedule has its own form."""

    products = forms.MultipleChoiceField(
        choices=TreatmentCourse.Product.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    monitoring_window_days = forms.IntegerField(label="Monitoring window (days from day 0)")
    sbp_low_mmhg = forms.IntegerField(required=False)
    heart_rate_high = forms.IntegerField()
    heart_rate_low = forms.IntegerField()
    resp_rate_high = forms.IntegerField()
    resp_rate_low = forms.IntegerField()
    spo2_low_pct = forms.IntegerField()
    temperature_high_c = forms.DecimalField(decimal_places=1)
    marker_rise_factor = forms.DecimalField(decimal_places=1)
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        help_text="New courses start on the newest active version for their product.",
    )
    is_template = forms.BooleanField(
        label="Still the shipped template (not yet reviewed for clinical use)",
        required=False,
        help_text="Untick once your cellular-therapy program has reviewed and signed it off.",
    )
    change_note = forms.CharField(
        label="Change note",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What changed and why: kept with the version and in the audit log.",
        error_messages={"required": "Say what changed and why."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (low, high, unit) in PROTOCOL_RANGES.items():
            field = self.fields[name]
            if name != "monitoring_window_days":
                field.label = capfirst(ProtocolVersion._meta.get_field(name).verbose_name)
            _add_range(field, field.label.split(" (")[0], low, high, unit)
        self.fields[
            "sbp_low_mmhg"
        ].help_text += "; blank: adults < 90 mmHg, children by PALS age limits."
        self.fields["products"].help_text = "None ticked: every product."
        for domain, label in (("crs", "CRS"), ("icans", "ICANS")):
            for grade in range(5):
                self.fields[f"escalation_{domain}_{grade}"] = forms.CharField(
                    label=f"{label} grade {grade}",
                    required=False,
                    max_length=1000,
                    widget=forms.Textarea(attrs={"rows": 3}),
                    help_text="Blank: the ASCO-based default text.",
                )

    @staticmethod
    def initial_for(version: ProtocolVersion) -> dict:
        initial = {name: getattr(version, name) for name in PROTOCOL_FIELDS}
        for domain in ESCALATION_DEFAULTS:
            for grade in range(5):
                initial[f"escalation_{domain}_{grade}"] = version.escalation_text(domain, grade)
        return initial

    @property
    def escalation_crs_fields(self) -> list:
        return [self[f"escalation_crs_{grade}"] for grade in range(5)]

    @property
    def escalation_icans_fields(self) -> list:
        return [self[f"escalation_icans_{grade}"] for grade in range(5)]

    def clean(self):
        data = super().clean()
        for low, high, what in (
            ("heart_rate_low", "heart_rate_high", "tachycardia"),
            ("resp_rate_low", "resp_rate_high", "high respiratory rate"),
        ):
            if data.get(low) is not None and data.get(high) is not None and data[low] >= data[high]:
                self.add_error(low, f"Must be below the {what} limit ({data[high]}/min).")
        return data

    def escalation(self) -> dict:
        """Every grade's text, stored in full so the version never changes with the defaults."""
        return {
            domain: {
                str(grade): self.cleaned_data[f"escalation_{domain}_{grade}"].strip()
                or defaults[grade]
                for grade in range(5)
            }
            for domain, defaults in ESCALATION_DEFAULTS.items()
        }

    def changes(self, version: ProtocolVersion) -> dict:
        """The fields whose value differs from ``version`` (what services.revise_protocol takes)."""
        changes = {}
        for name in PROTOCOL_FIELDS:
            value = self.cleaned_data[name]
            if name == "products":
                value = [code for code in TreatmentCourse.Product.values if code in value]
                if sorted(value) != sorted(version.products or []):
                    changes[name] = value
            elif value != getattr(version, name):
                changes[name] = value
        escalation = self.escalation()
        if any(
            text != version.escalation_text(domain, int(grade))
            for domain, texts in escalation.items()
            for grade, text in texts.items()
        ):
            changes["escalation"] = escalation
        return changes


GRADE_CHOICES = [("", "—"), *[(grade, f"≥ {grade}") for grade in range(1, 5)]]


class CheckScheduleForm(forms.Form):
    """How often one check type is due under a protocol version, and when it tightens."""

    interval_minutes = forms.IntegerField(label="Every (minutes)", required=False)
    tightened_interval_minutes = forms.IntegerField(label="Tightened (minutes)", required=False)
    tighten_at_crs_grade = forms.TypedChoiceField(
        label="Tighten at CRS",
        choices=GRADE_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
    tighten_at_icans_grade = forms.TypedChoiceField(
        label="Tighten at ICANS",
        choices=GRADE_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
    tighten_on_neuro_change = forms.BooleanField(
        label="Tighten once an ICE point is lost", required=False
    )

    def __init__(self, *args, check_type: str, schedule: CheckSchedule | None = None, **kwargs):
        initial = {name: getattr(schedule, name) for name in SCHEDULE_FIELDS} if schedule else {}
        super().__init__(*args, prefix=f"schedule-{check_type}", initial=initial, **kwargs)
        self.check_type, self.schedule = check_type, schedule
        self.label = CheckType(check_type).label
        for name, (low, high) in SCHEDULE_RANGES.items():
            _add_range(self.fields[name], self.fields[name].label.split(" (")[0], low, high, "min")
        if schedule is None:
            self.fields["interval_minutes"].help_text += "; blank: not scheduled"

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        interval = data.get("interval_minutes")
        tightened = data.get("tightened_interval_minutes")
        conditions = any(data.get(name) for name in SCHEDULE_FIELDS[2:])
        if interval is None:
            if self.schedule is not None:
                self.add_error(
                    "interval_minutes",
                    "Give the usual interval: a scheduled check "
                    f"cannot be removed (it is every {self.schedule.interval_minutes} "
                    "min).",
                )
            elif tightened is not None or conditions:
                self.add_error(
                    "interval_minutes",
                    "Give the usual interval, or clear the row to leave this check unscheduled.",
                )
            return data
        if tightened is not None and not conditions:
            self.add_error(
                "tightened_interval_minutes",
                "Choose when the shorter interval applies (CRS, ICANS or ICE change), or clear it.",
            )
        elif conditions and tightened is None:
            self.add_error(
                "tightened_interval_minutes",
                "Give the shorter interval that applies while tightened.",
            )
        elif tightened is not None and tightened >= interval:
            self.add_error(
                "tightened_interval_minutes",
                f"Must be shorter than the usual interval ({interval} min).",
            )
        return data

    def values(self) -> dict | None:
        """The row's schedule, or None when the check type is left unscheduled."""
        if self.cleaned_data.get("interval_minutes") is None:
            return None
        return {name: self.cleaned_data[name] for name in SCHEDULE_FIELDS}

    def changes(self) -> dict:
        values = self.values()
        if values is None:
            return {}
        if self.schedule is None:
            return values
        return {
            name: value for name, value in values.items() if getattr(self.schedule, name) != value
        }

    def preview(self) -> CheckSchedule | None:
        """An unsaved schedule with the submitted values, to describe in plain words."""
        values = self.values()
        return CheckSchedule(check_type=self.check_type, **values) if values else None


class MoveCourseForm(forms.Form):
    version = forms.ModelChoiceField(
        ProtocolVersion.objects.none(), label="Move to protocol version", empty_label=None
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why this course changes protocol version (kept in the audit log).",
        error_messages={"required": "Say why the course changes protocol version."},
    )

    def __init__(self, *args, versions, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["version"]
        field.queryset = versions
        field.label_from_instance = lambda v: (
            f"{v} — {'active' if v.is_active else 'inactive'}"
            + (" — TEMPLATE" if v.is_template else "")
        )


class CheckNotDoneForm(ObservationTimeForm):
    """A due check that could not be done: which, why, when it was attempted."""

    check_type = forms.ChoiceField(label="Check", choices=CheckType.choices)
    reason = forms.ChoiceField(choices=CheckNotDone.Reason.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        max_length=500,
        required=False,
        help_text="Required for 'Other'; e.g. 'CT head, back about 14:30'.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["observed_at"].label = "Attempted at"
        self.fields["observed_at"].help_text = "When the check was due and could not be done."
        self.order_fields(["check_type", "reason", "note", "observed_at"])

    def clean(self):
        data = super().clean()
        if data.get("reason") == CheckNotDone.Reason.OTHER and not data.get("note", "").strip():
            self.add_error("note", "Say why the check was not done.")
        return data


class AmendmentMixin:
    """A section form prefilled with a record's values, for a correction of that record.

    Always validated (a correction is not optional); ``changed_values`` is what
    services.amend_record takes: only the fields whose value differs from the record.
    """

    def __init__(self, *args, record, **kwargs):
        self.record = record
        super().__init__(*args, initial=self.initial_for(record), **kwargs)
        self.empty_permitted = False

    def initial_for(self, record) -> dict:
        return {name: getattr(record, name) for name in self._meta.fields}

    def changed_values(self) -> dict:
        return {
            name: value
            for name, value in self.model_values().items()
            if getattr(self.record, name) != value
        }


class AmendVitalSignsForm(AmendmentMixin, VitalSignsForm):
    """Temperature in °C only: it is what was stored, so the nurse corrects the stored value."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["temperature_unit"]
        self.fields["temperature"].label = "Temperature (°C)"
        self.fields["temperature"].help_text = "30–45 °C"
        self.order_fields(["temperature"])

    def initial_for(self, record) -> dict:
        return {**super().initial_for(record), "temperature": record.temp_c}

    def clean(self):
        self.cleaned_data["temperature_unit"] = "C"
        return super().clean()


class AmendSymptomForm(AmendmentMixin, SymptomForm):
    pass


class AmendNeuroForm(AmendmentMixin, NeuroForm):
    def initial_for(self, record) -> dict:
        return {
            **super().initial_for(record),
            "unable_to_assess": bool(record.unable_to_assess_reason),
        }


class AmendLabForm(AmendmentMixin, LabForm):
    pass


class AmendTreatmentForm(AmendmentMixin, TreatmentForm):
    pass


AMENDMENT_FORMS = {
    "vitals": AmendVitalSignsForm,
    "symptoms": AmendSymptomForm,
    "neuro": AmendNeuroForm,
    "labs": AmendLabForm,
    "treatment": AmendTreatmentForm,
}


class CorrectionReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the record and shown beside it, e.g. 'typed 38.6 for 37.2'.",
        error_messages={"required": "Give the reason: it is kept with the record."},
    )


class _UserChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        # A key that is not a plain small number is no user (and would overflow the database).
        if value not in self.empty_values and not re.fullmatch(r"[0-9]{1,18}", str(value)):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


AUDIT_DATES = (date(2000, 1, 1), date(2100, 12, 31))


class AuditLogFilterForm(forms.Form):
    user = _UserChoiceField(User.objects.order_by("username"), required=False, empty_label="Anyone")
    mrn = forms.CharField(label="Patient MRN", max_length=32, required=False)
    action = forms.ChoiceField(
        choices=[("", "Any action"), *AuditEvent.Action.choices], required=False
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        low, high = AUDIT_DATES
        for name in ("date_from", "date_to"):
            if data.get(name) and not low <= data[name] <= high:
                self.add_error(name, f"Give a date between {low:%Y-%m-%d} and {high:%Y-%m-%d}.")
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date must be on or after the start date.")
        return data

    def filter(self, events):
        data = self.cleaned_data
        if data.get("user"):
            events = events.filter(user=data["user"])
        if data.get("mrn", "").strip():
            events = events.filter(patient__mrn__icontains=data["mrn"].strip())
        if data.get("action"):
            events = events.filter(action=data["action"])
        zone = timezone.get_current_timezone()
        if data.get("date_from"):
            events = events.filter(at__gte=datetime.combine(data["date_from"], time.min, zone))
        if data.get("date_to"):
            end = data["date_to"] + timedelta(days=1)
            events = events.filter(at__lt=datetime.combine(end, time.min, zone))
        return events


# ---------------------------------------------------------------------------------------------
# Care team: flag actions, grade confirmation, treatments given (views/care_team.py)
# ---------------------------------------------------------------------------------------------


class _SeenFlagForm(forms.Form):
    """What the clinician saw of the flag. A flag can escalate between reading and acting (the
    board's refresh pauses while a note is typed): acting on a flag that changed is refused."""

    seen_severity = forms.IntegerField(required=False, widget=forms.HiddenInput)
    seen_message = forms.CharField(
        required=False, strip=False, max_length=500, widget=forms.HiddenInput
    )

    def check_seen(self, flag) -> None:
        seen = (self.cleaned_data.get("seen_severity"), self.cleaned_data.get("seen_message"))
        if seen != (None, "") and seen != (flag.severity, flag.message):
            raise ValidationError(
                f"This flag changed since you saw it: it is now {flag.get_severity_display()}, "
                f"“{flag.message}”. Nothing was changed; confirm again if you still mean to.",
                code="changed",
            )


class FlagAcknowledgeForm(_SeenFlagForm):
    note = forms.CharField(
        label="Note",
        max_length=500,
        required=False,
        help_text="Optional: what you are doing about it.",
    )


class FlagResolveForm(_SeenFlagForm):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        error_messages={"required": "Give the reason the flag is resolved."},
    )


def snapshot_label(course, snapshot) -> str:
    """A graded moment of the course: "D+3 2026-03-01 14:05 — CRS 2 · ICANS 0"."""
    at = timezone.localtime(snapshot.observed_at)
    day = course.day_number(at)
    grades = " · ".join(
        f"{name} {_grade_text(computed, confirmed)}"
        for name, computed, confirmed in (
            ("CRS", snapshot.crs_grade, snapshot.crs_confirmed_grade),
            ("ICANS", snapshot.icans_grade, snapshot.icans_confirmed_grade),
        )
    )
    return f"{'D+' if day >= 0 else 'D'}{day} {at:%Y-%m-%d %H:%M} — {grades}"


def _grade_text(computed, confirmed) -> str:
    text = "—" if computed is None else str(computed)
    return text if confirmed is None else f"{text} (confirmed {confirmed})"


class GradeConfirmationForm(forms.Form):
    """Confirm or override the computed grade of one moment; the reason is required.

    ``snapshots`` are the course's own (the page has them in memory already): the id of
    another course's snapshot is not a valid choice.
    """

    snapshot = forms.TypedChoiceField(label="Moment", coerce=int)
    domain = forms.ChoiceField(label="Domain", choices=GradeConfirmation.Domain.choices)
    grade = forms.TypedChoiceField(
        label="Confirmed grade", coerce=int, choices=[(n, f"Grade {n}") for n in range(5)]
    )
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Give the reason for the confirmation or override."},
        help_text="Clinical reasoning; shown beside the computed grade and kept in the audit log.",
    )

    def __init__(self, *args, course, snapshots, **kwargs):
        super().__init__(*args, **kwargs)
        self.snapshots = {snapshot.pk: snapshot for snapshot in snapshots}
        self.fields["snapshot"].choices = [
            (pk, snapshot_label(course, snapshot)) for pk, snapshot in self.snapshots.items()
        ]

    def clean_snapshot(self):
        return self.snapshots[self.cleaned_data["snapshot"]]


class _ShownWarningsField(forms.Field):
    """The dose warnings the clinician saw when ticking "give anyway" (hidden inputs)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        return [str(item)[:500] for item in (value or [])[:20]]


_TREATMENT_FIELDS = forms.fields_for_model(
    Treatment, fields=["drug", "drug_other", "dose", "dose_unit", "route"]
)


class TreatmentGivenForm(ObservationTimeForm):
    """One treatment given, at the time it was given (a late entry sets the time back)."""

    drug = _TREATMENT_FIELDS["drug"]
    drug_other = _TREATMENT_FIELDS["drug_other"]
    dose = _TREATMENT_FIELDS["dose"]
    dose_unit = _TREATMENT_FIELDS["dose_unit"]
    route = _TREATMENT_FIELDS["route"]
    give_anyway = forms.BooleanField(
        label="Give anyway — clinician's decision",
        required=False,
    )
    shown_warnings = _ShownWarningsField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["observed_at"].label = "Given at"
        self.fields[
            "observed_at"
        ].help_text = "When the dose was given — set it back for a late entry."
        self.fields["dose"].widget.attrs.update({"min": "0", "step": "any", "inputmode": "decimal"})
        self.order_fields(["drug", "drug_other", "dose", "dose_unit", "route", "observed_at"])

    def clean(self):
        data = super().clean()
        if data.get("drug") == Treatment.Drug.OTHER and not data.get("drug_other"):
            self.add_error("drug_other", "Name the drug.")
        if data.get("drug") != Treatment.Drug.OTHER:
            data["drug_other"] = ""
        if data.get("dose") is not None and data["dose"] <= 0:
            self.add_error("dose", "The dose must be more than 0.")
        return data

    def treatment_values(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in ("drug", "drug_other", "dose", "dose_unit", "route")
        }

    def accepted_warnings(self) -> list[str]:
        return self.cleaned_data["shown_warnings"] if self.cleaned_data["give_anyway"] else []
