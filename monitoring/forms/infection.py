"""The care team's infection-prevention forms (monitoring/infection.py validates again, and the
database has the same bounds)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from monitoring.forms.common import range_validator
from monitoring.models import ImmunoglobulinDose, Infection
from monitoring.models.infection import IG_DOSE_G_RANGE


def date_field(label, *, required: bool = True) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class StartProphylaxisForm(forms.Form):
    item = forms.ChoiceField(label=_("Prophylaxis"))
    drug = forms.CharField(label=_("Drug and dose"), max_length=200)
    started_on = date_field(_("Started on"))

    def __init__(self, *args, checklist, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [(item["code"], item["label"]) for item in checklist]


class StopProphylaxisForm(forms.Form):
    record = forms.IntegerField(widget=forms.HiddenInput)
    stopped_on = date_field(_("Stopped on"))
    stop_reason = forms.CharField(
        label=_("Why it stopped"),
        max_length=500,
        required=False,
        help_text=_("Before its planned end, no reason means lapsed (flagged)."),
    )


class StopReasonForm(forms.Form):
    """The reason for a stop already recorded: an amendment of the record."""

    record = forms.IntegerField(widget=forms.HiddenInput)
    stop_reason = forms.CharField(label=_("Why it stopped"), max_length=500)


class ImmunoglobulinForm(forms.ModelForm):
    planned_for = date_field(_("Planned for"))
    given_on = date_field(_("Given on (if given)"), required=False)

    class Meta:
        model = ImmunoglobulinDose
        fields = ["product", "dose_g", "planned_for", "given_on", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = IG_DOSE_G_RANGE
        field = self.fields["dose_g"]
        field.validators.append(range_validator(_("Dose"), low, high, "g"))
        field.widget.attrs.update({"min": low, "max": high, "step": "0.5"})
        field.help_text = f"{low}–{high} g"


class GiveImmunoglobulinForm(forms.Form):
    record = forms.IntegerField(widget=forms.HiddenInput)
    given_on = date_field(_("Given on"))


class InfectionForm(forms.ModelForm):
    onset_on = date_field(_("Onset"))
    resolved_on = date_field(_("Resolved on (if resolved)"), required=False)

    class Meta:
        model = Infection
        fields = [
            "site",
            "site_other",
            "organism_type",
            "organism",
            "severity",
            "onset_on",
            "resolved_on",
        ]

    def clean(self):
        data = super().clean()
        if data.get("site") == Infection.Site.OTHER and not (data.get("site_other") or "").strip():
            self.add_error("site_other", _("Name the other site."))
        return data


class ResolveInfectionForm(forms.Form):
    record = forms.IntegerField(widget=forms.HiddenInput)
    resolved_on = date_field(_("Resolved on"))


class EnteredInErrorForm(forms.Form):
    kind = forms.ChoiceField(choices=[("prophylaxis", ""), ("igdose", ""), ("infection", "")])
    record = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Why it was entered in error"), max_length=500)
