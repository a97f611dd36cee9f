"""Corrections: a record amended (prefilled with its values) or marked entered in error."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring.forms.nurse import LabForm, NeuroForm, SymptomForm, TreatmentForm, VitalSignsForm


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
        self.fields["temperature"].label = gettext("Temperature (°C)")
        self.fields["temperature"].help_text = gettext("30–45 °C")
        self.order_fields(["temperature"])

    def initial_for(self, record) -> dict:
        return {**super().initial_for(record), "temperature": record.temp_c}

    def clean(self):
        self.cleaned_data["temperature_unit"] = "C"
        return super().clean()


class AmendSymptomForm(AmendmentMixin, SymptomForm):
    def initial_for(self, record) -> dict:
        found = record.crs_symptoms or record.neuro_symptoms or record.other
        return {**super().initial_for(record), "no_symptoms": not found}


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
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept with the record and shown beside it, e.g. 'typed 38.6 for 37.2'."),
        error_messages={"required": _("Give the reason: it is kept with the record.")},
    )
