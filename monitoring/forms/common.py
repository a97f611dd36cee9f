"""Shared pieces of the clinical forms: ranges with their units, non-finite numbers, sections."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring.models.courses import CLOCK_SKEW

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
    "lymphocytes_10e9_l": "×10⁹/L",
    "igg_mg_dl": "mg/dL",
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
            params = {"label": label, "low": low, "high": high, "unit": unit, "value": value}
            message = (
                gettext("%(label)s must be between %(low)s and %(high)s %(unit)s (got %(value)s).")
                if unit
                else gettext("%(label)s must be between %(low)s and %(high)s (got %(value)s).")
            )
            raise ValidationError(message % params, code="out_of_range")

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
        label=_("Observed at"),
        help_text=_("When the patient was assessed — set it back for a late entry."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )

    def __init__(self, *args, course, **kwargs):
        super().__init__(*args, **kwargs)
        self.course = course
        self.fields["observed_at"].initial = self.default_time()

    @staticmethod
    def default_time():
        """Now, to the minute: what the page offers before the nurse sets a time."""
        return timezone.localtime().replace(second=0, microsecond=0)

    @classmethod
    def entered_time(cls, data, *, course):
        """The valid observation time in ``data`` (a POST or a GET), or None."""
        if not data or not data.get("observed_at"):
            return None
        form = cls({"observed_at": data.get("observed_at")}, course=course)
        return form.cleaned_data["observed_at"] if form.is_valid() else None

    def clean_observed_at(self):
        value = self.cleaned_data["observed_at"]
        if value > timezone.now() + CLOCK_SKEW:
            raise ValidationError(gettext("Observation time cannot be in the future."))
        return value


class ShownWarningsField(forms.Field):
    """The dose warnings the clinician saw when ticking "give anyway" (hidden inputs)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        return [str(item)[:500] for item in (value or [])[:20]]


GIVE_ANYWAY_LABEL = _("Give anyway — clinician's decision")


class DoseDecisionForm(forms.Form):
    """The clinician's answer to held dose warnings (services.DoseWarningsPending), on any page
    that records or corrects a treatment: "give anyway", and the warnings they saw. A warning
    that changed since it was shown holds the dose again."""

    give_anyway = forms.BooleanField(label=GIVE_ANYWAY_LABEL, required=False)
    shown_warnings = ShownWarningsField(required=False)

    def accepted_warnings(self) -> list[str]:
        if not self.is_valid() or not self.cleaned_data["give_anyway"]:
            return []
        return self.cleaned_data["shown_warnings"]
