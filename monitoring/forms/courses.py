"""A course's life (views/courses.py): admit a patient and start a course, transfer it, end its
monitoring, correct day 0 or the patient's date of birth and weight.

The plausible ranges are the services' (``services.check_infusion_time``, ``check_date_of_birth``,
``check_weight``): the forms call the same checks, so a person sees the allowed range next to
the field before anything is saved, and the services refuse the same values from anywhere else.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from monitoring import products, services
from monitoring.models import CareSetting, Patient, TherapyProduct, TreatmentCourse, Unit
from monitoring.models.people import WEIGHT_KG_RANGE

MOMENT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def moment_field(label: str, help_text: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=MOMENT_FORMATS,
    )


def date_of_birth_field() -> forms.DateField:
    return forms.DateField(
        label=_("Date of birth"),
        help_text=format_lazy(_("Age 0–{years} years."), years=services.MAX_AGE_YEARS),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )


def weight_field() -> forms.DecimalField:
    low, high = WEIGHT_KG_RANGE
    return forms.DecimalField(
        label=_("Weight (kg)"),
        max_digits=5,
        decimal_places=1,
        help_text=format_lazy(
            _("{low}–{high} kg: tocilizumab is dosed by it."), low=low, high=high
        ),
        widget=forms.NumberInput(attrs={"min": low, "max": high, "step": "0.1"}),
    )


def reason_field(help_text: str, *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=required,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=help_text,
    )


class ServiceChecksMixin:
    """Run the services' range checks in ``clean`` and put each message on its field."""

    checks: dict = {}  # field name -> services check

    def clean(self):
        cleaned = super().clean()
        for name, check in self.checks.items():
            if cleaned.get(name) is not None:
                try:
                    check(cleaned[name])
                except ValidationError as error:
                    self.add_error(None, error)  # keyed by the field's name
        return cleaned


class PatientForm(ServiceChecksMixin, forms.ModelForm):
    """A new patient, or one already registered under this MRN (name and birth must match)."""

    checks = {
        "date_of_birth": services.check_date_of_birth,
        "weight_kg": services.check_weight,
    }
    date_of_birth = date_of_birth_field()
    weight_kg = weight_field()

    class Meta:
        model = Patient
        fields = ["mrn", "given_name", "family_name", "date_of_birth", "sex", "weight_kg"]
        help_texts = {
            "mrn": "Already registered? Type the MRN, name and date of birth as on file: the "
            "course is added to that patient."
        }

    def _post_clean(self):
        # An MRN on file is the existing patient (services.admit_patient), not a duplicate,
        # and the database rules are the services' to check: no model validation here.
        pass

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class CourseForm(ServiceChecksMixin, forms.ModelForm):
    checks = {"infused_at": services.check_infusion_time}
    infused_at = moment_field(
        # What day 0 is follows the product (TherapyProduct.day_zero); the label says both.
        gettext_lazy("Day 0: the infusion (cell therapy) or the first dose (T-cell engager)"),
        _("Within the last year, or up to a week ahead for a planned infusion."),
    )

    class Meta:
        model = TreatmentCourse
        fields = [
            "unit",
            "bed",
            "care_setting",
            "product",
            "product_other",
            "indication",
            "infused_at",
        ]
        help_texts = {
            "bed": "Optional. Alerts say “Ward 7, bed 3”, never the patient’s name.",
            "care_setting": _(
                "Outpatient: checks at clinic visits or by phone, and on the clinic list of the "
                "worklist. Changed later on the course page."
            ),
        }

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        self.fields["unit"].empty_label = None
        # The active products, grouped by class (CAR-T, T-cell engagers, ...); a retired one
        # is not offered and not accepted (services.check_new_course refuses it too).
        product = self.fields["product"]
        product.queryset = TherapyProduct.objects.active()
        product.choices = [("", "---------"), *products.product_choices()]
        self.fields["infused_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        # Not said (an older page, a script): the model's default, inpatient.
        self.fields["care_setting"].required = False

    def clean_care_setting(self):
        return self.cleaned_data.get("care_setting") or CareSetting.INPATIENT

    def clean(self):
        cleaned = super().clean()
        product = cleaned.get("product")
        if product is not None and product.code == "other" and not cleaned.get("product_other", ""):
            self.add_error("product_other", "Name the investigational product.")
        return cleaned

    def _post_clean(self):
        # The course is built and checked by services.start_course, with its patient.
        pass

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class InfusionTimeForm(ServiceChecksMixin, forms.Form):
    checks = {"infused_at": services.check_infusion_time}
    infused_at = moment_field(
        _("Correct infusion time (day 0)"),
        _(
            "Within the last year and at most a week ahead. Every D+n moves with it and the "
            "whole course is regraded."
        ),
    )
    reason = reason_field(_("Why day 0 was wrong (kept in the audit log with old and new)."))


class TransferForm(forms.Form):
    unit = forms.ModelChoiceField(
        Unit.objects.none(), label=_("Transfer to unit"), empty_label=None
    )
    bed = forms.CharField(label=_("Bed on that unit"), max_length=16, required=False)
    reason = reason_field(_("Optional note for the audit log."), required=False)

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units


class CareSettingForm(forms.Form):
    care_setting = forms.ChoiceField(
        label=_("Care setting"), choices=CareSetting.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "E.g. admitted to the ward for CRS, or discharged to outpatient follow-up "
            "(kept in the audit log with old and new)."
        ),
    )


class PatientDetailsForm(ServiceChecksMixin, forms.Form):
    checks = {
        "date_of_birth": services.check_date_of_birth,
        "weight_kg": services.check_weight,
    }
    date_of_birth = date_of_birth_field()
    weight_kg = weight_field()
    reason = reason_field(_("Why the details on file were wrong (kept with old and new values)."))


class EndMonitoringForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("How monitoring ended"),
        choices=[(s.value, s.label) for s in services.ENDED_STATUSES],
        widget=forms.RadioSelect,
    )
    ended_at = moment_field(
        _("Ended at"), _("Not before the last check recorded, not in the future.")
    )
    reason = reason_field(
        _("Kept in the audit log; every open flag of the course is closed with it.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ended_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
