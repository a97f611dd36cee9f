"""The care team's infection-prevention forms (monitoring/infection.py validates again, and the
database has the same bounds)."""

from __future__ import annotations

import json

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring import infection_rules
from monitoring.forms.common import range_validator
from monitoring.models import ImmunoglobulinDose, Infection, ProtocolVersion
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


class InfectionProtocolForm(forms.Form):
    """A protocol version's infection prevention (infection_rules), edited beside the rest of
    the version (views.protocols.protocol_version_edit, prefix "infection")."""

    prophylaxis = forms.CharField(
        label=_("Prophylaxis checklist (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "font-monospace small"}),
        help_text=_(
            "A list of items, each with: code, label, drugs, start_day and stop_day (days from "
            "day 0, or null), start_when and stop_when (a condition in words), where_indicated "
            "(true: never flagged as due). An empty list: no checklist."
        ),
    )
    igg_replace_below_mg_dl = forms.IntegerField(required=False)
    igg_replace_products = forms.CharField(
        label=_("Immunoglobulin replacement for everyone on (product codes)"),
        required=False,
        max_length=500,
        help_text=_("Comma-separated, e.g. teclistamab, elranatamab. Blank: none."),
    )
    neutropenia_anc_10e9_l = forms.DecimalField(decimal_places=2)
    anc_valid_hours = forms.IntegerField()

    RANGES = {
        "igg_replace_below_mg_dl": (*infection_rules.IGG_THRESHOLD_RANGE, "mg/dL"),
        "neutropenia_anc_10e9_l": (*infection_rules.ANC_THRESHOLD_RANGE, "×10⁹/L"),
        "anc_valid_hours": (*infection_rules.ANC_VALID_HOURS_RANGE, "h"),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (low, high, unit) in self.RANGES.items():
            field = self.fields[name]
            field.label = capfirst(ProtocolVersion._meta.get_field(name).verbose_name)
            field.validators.append(range_validator(field.label.split(" (")[0], low, high, unit))
            field.widget.attrs.update({"min": low, "max": high})
            field.help_text = f"{low}–{high} {unit}"
        self.fields["igg_replace_below_mg_dl"].help_text += " · " + str(_("blank: no threshold"))

    @staticmethod
    def initial_for(version: ProtocolVersion) -> dict:
        return {
            "prophylaxis": json.dumps(version.prophylaxis, indent=2, ensure_ascii=False),
            "igg_replace_below_mg_dl": version.igg_replace_below_mg_dl,
            "igg_replace_products": ", ".join(version.igg_replace_products),
            "neutropenia_anc_10e9_l": version.neutropenia_anc_10e9_l,
            "anc_valid_hours": version.anc_valid_hours,
        }

    def clean_prophylaxis(self):
        text = self.cleaned_data["prophylaxis"].strip() or "[]"
        try:
            items = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(
                _("Not valid JSON: %(error)s") % {"error": error}
            ) from error
        problems = infection_rules.checklist_problems(items)
        if problems:
            raise forms.ValidationError([gettext(text) % params for text, params in problems])
        return items

    def clean_igg_replace_products(self):
        codes = [c.strip() for c in self.cleaned_data["igg_replace_products"].split(",")]
        codes = [c for c in codes if c]
        problems = infection_rules.products_problems(codes)
        if problems:
            raise forms.ValidationError([gettext(text) % params for text, params in problems])
        return codes

    def changes(self, version: ProtocolVersion) -> dict:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value != getattr(version, name)
        }
