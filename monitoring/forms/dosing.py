"""Forms of step-up dosing: a course's doses (plan, re-plan, hold, give, restart) and the dose
steps of a protocol version (the admin's protocol edit page)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring.forms.common import range_validator
from monitoring.models.dosing import STEP_RANGES, DoseStep

WHEN_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def when_field(label) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=WHEN_FORMATS,
    )


class PlanDosesForm(forms.Form):
    first_dose_at = when_field(_("First dose (day 0) at"))


class ReplanDoseForm(forms.Form):
    planned_at = when_field(_("New planned time"))
    reason = forms.CharField(label=_("Why"), max_length=500)


class HoldDoseForm(forms.Form):
    reason = forms.CharField(label=_("Why the dose is held"), max_length=500)


class GiveDoseForm(forms.Form):
    given_at = when_field(_("Given at"))
    override_reason = forms.CharField(
        label=_("Override a gate not met: the physician's reason"),
        max_length=500,
        required=False,
        help_text=_("Only when a gate is not met, and only a physician of the care team."),
    )


class RestartForm(forms.Form):
    from_sequence = forms.TypedChoiceField(label=_("Restart at"), coerce=int)
    first_dose_at = when_field(_("First dose of the restart at"))
    reason = forms.CharField(label=_("Why"), max_length=500)

    def __init__(self, *args, steps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_sequence"].choices = [(s.sequence, s.shown_label) for s in steps]


# "7>1, 28>2": more than 7 days since the previous dose → restart at step 1; more than 28 → 2.
_RULE = re.compile(r"^\s*(\d{1,3})\s*>\s*(\d{1,2})\s*$")


def rules_text(rules) -> str:
    return ", ".join(f"{rule['after_days']}>{rule['restart_at']}" for rule in rules or [])


class DoseStepForm(forms.Form):
    """One dose step on the protocol edit page; a blank label drops (or skips) the step."""

    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    is_step_up = forms.BooleanField(label=_("Step-up dose"), required=False)
    day_offset = forms.IntegerField(
        label=DoseStep._meta.get_field("day_offset").verbose_name, required=False
    )
    dose_text = forms.CharField(label=_("Dose"), max_length=200, required=False)
    window_hours = forms.IntegerField(
        label=DoseStep._meta.get_field("window_hours").verbose_name, required=False
    )
    premed_lookback_hours = forms.IntegerField(
        label=DoseStep._meta.get_field("premed_lookback_hours").verbose_name, required=False
    )
    crs_clear_hours = forms.IntegerField(
        label=DoseStep._meta.get_field("crs_clear_hours").verbose_name, required=False
    )
    icans_clear_hours = forms.IntegerField(
        label=DoseStep._meta.get_field("icans_clear_hours").verbose_name, required=False
    )
    restart_rules = forms.CharField(
        label=_("Restart after a delay"),
        required=False,
        help_text=_(
            "Days>step, e.g. “7>1, 28>2”: more than 7 days since the previous dose "
            "restarts at step 1."
        ),
    )
    source = forms.CharField(label=_("Source"), max_length=300, required=False)

    def __init__(self, *args, step: DoseStep | None = None, **kwargs):
        initial = {}
        if step is not None:
            initial = {**step.settings(), "restart_rules": rules_text(step.restart_rules)}
        super().__init__(*args, initial=initial, **kwargs)
        self.step = step
        for name, (low, high) in STEP_RANGES.items():
            if name in self.fields:
                field = self.fields[name]
                label = str(field.label).split(" (")[0]
                field.validators.append(range_validator(label, low, high, ""))
                field.widget.attrs.update({"min": low, "max": high})

    def clean_restart_rules(self):
        text = self.cleaned_data["restart_rules"].strip()
        rules = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = _RULE.match(part)
            if not match:
                raise ValidationError(
                    gettext("Write each rule as days>step, e.g. “7>1” (got “%(part)s”).")
                    % {"part": part}
                )
            rules.append({"after_days": int(match[1]), "restart_at": int(match[2])})
        return rules

    def clean(self):
        data = super().clean()
        if data.get("label", "").strip():
            for name in ("day_offset", "dose_text", "window_hours"):
                if data.get(name) in (None, ""):
                    self.add_error(name, gettext("Needed for each dose step."))
        return data

    def settings(self) -> dict | None:
        """The step's settings, or None for a blank row."""
        data = self.cleaned_data
        if not data.get("label", "").strip():
            return None
        return {
            "label": data["label"].strip(),
            "is_step_up": data["is_step_up"],
            "day_offset": data["day_offset"],
            "dose_text": data["dose_text"].strip(),
            "window_hours": data["window_hours"],
            "premed_lookback_hours": data["premed_lookback_hours"]
            if data["premed_lookback_hours"] is not None
            else 3,
            "crs_clear_hours": data["crs_clear_hours"],
            "icans_clear_hours": data["icans_clear_hours"],
            "restart_rules": data["restart_rules"],
            "source": data["source"].strip(),
        }


def step_forms(data, steps: list[DoseStep], blank_rows: int = 2) -> list[DoseStepForm]:
    rows = [DoseStepForm(data, step=s, prefix=f"step{i}") for i, s in enumerate(steps)]
    rows += [DoseStepForm(data, prefix=f"step{len(steps) + i}") for i in range(blank_rows)]
    return rows


def steps_changes(rows: list[DoseStepForm], steps: list[DoseStep]) -> list[dict] | None:
    """The new list of step settings when it differs from the version's, else None."""
    new = [s for s in (row.settings() for row in rows) if s is not None]
    current = [{k: v for k, v in s.settings().items() if k != "sequence"} for s in steps]
    return None if new == current else new
