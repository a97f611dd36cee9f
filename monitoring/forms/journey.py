"""The treatment journey's forms (views/journey.py). The ranges are journey's and services'
checks, called here too so the allowed range shows next to the field before saving."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring import journey, journey_rules
from monitoring.forms.courses import CourseForm, ServiceChecksMixin, moment_field, reason_field
from monitoring.models import BaselineItem, Phase

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def date_field(label, *, required: bool = True, help_text="") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=DATE_WIDGET,
        input_formats=["%Y-%m-%d"],
    )


def _now():
    return timezone.localtime().replace(second=0, microsecond=0)


class PlannedCourseForm(CourseForm):
    """A course registered at referral: day 0 is the planned infusion, up to 180 days ahead."""

    checks = {"infused_at": journey.check_planned_infusion}
    infused_at = moment_field(
        _("Planned infusion (day 0)"),
        _("From now up to %(days)s days ahead: collection and manufacturing take weeks.")
        % {"days": journey_rules.PLANNED_AHEAD_DAYS},
    )
    referred_on = date_field(_("Referred on"), help_text=_("Within the last year."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["referred_on"].initial = timezone.localdate()
        self.fields["infused_at"].initial = _now() + timezone.timedelta(days=35)


class MovePlannedInfusionForm(ServiceChecksMixin, forms.Form):
    """A planned day 0 moved (journey.move_planned_infusion): the same range as registration."""

    checks = {"infused_at": journey.check_planned_infusion}
    infused_at = moment_field(
        _("New planned infusion (day 0)"),
        _("From now up to %(days)s days ahead.") % {"days": journey_rules.PLANNED_AHEAD_DAYS},
    )
    reason = reason_field(
        _("E.g. manufacturing delayed, slot moved (kept in the audit log with old and new)."),
    )


class PhaseForm(forms.Form):
    phase = forms.ChoiceField(
        label=_("Phase"),
        choices=[(p, Phase(p).label) for p in journey_rules.RECORDED_PHASES],
    )
    started_on = date_field(_("Started on"))
    ended_on = date_field(_("Ended on"), required=False, help_text=_("Blank while it goes on."))
    regimen = forms.CharField(
        label=_("Regimen"),
        max_length=200,
        required=False,
        help_text=_("Conditioning: the regimen (the protocol's default is filled in)."),
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
    reason = reason_field(
        _("Only when correcting a date or text recorded before (old and new are kept)."),
        required=False,
    )


class BaselineForm(forms.Form):
    item = forms.ChoiceField(label=_("Baseline item"), choices=BaselineItem.Item.choices)
    lab = forms.ChoiceField(label=_("Lab"), required=False)
    taken_at = moment_field(_("Taken at"), _("Counts if taken within 7 days before day 0."))
    ice_score = forms.IntegerField(label=_("ICE score (0–10)"), required=False)
    weight_kg = forms.DecimalField(
        label=_("Weight (kg)"), required=False, max_digits=5, decimal_places=1
    )
    result = forms.CharField(label=_("Lab result, with its unit"), max_length=100, required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
    reason = reason_field(_("Only when recording an item again."), required=False)

    def __init__(self, *args, course, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lab"].choices = [("", "—")] + [
            (lab, journey.lab_label(lab)) for lab in journey.baseline_labs(course)
        ]
        self.fields["taken_at"].initial = _now()


class InfusionForm(forms.Form):
    infused_at = moment_field(
        _("Infused at (day 0)"),
        _("The actual moment of the infusion: checks are due from it."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["infused_at"].initial = _now()


class VisitForm(forms.Form):
    done_at = moment_field(_("Done at"), _("After the infusion, not in the future."))
    notes = forms.CharField(
        label=_("Notes"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    reason = reason_field(_("Only when correcting a visit recorded before."), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["done_at"].initial = _now()


class MissedVisitForm(forms.Form):
    reason = reason_field(
        _(
            "E.g. the patient did not come, or the visit was not possible (admitted elsewhere). "
            "Seen later, record the visit done: it replaces this."
        ),
    )


class EndJourneyForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("How it ended"),
        choices=[(s.value, s.label) for s in journey.PLANNED_OUTCOMES],
        widget=forms.RadioSelect,
        required=False,
    )
    ended_on = date_field(_("Ended on"))
    reason = reason_field(_("Kept in the audit log."))

    def __init__(self, *args, planned: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ended_on"].initial = timezone.localdate()
        if planned:
            self.fields["outcome"].required = True
        else:
            del self.fields["outcome"]


class JourneySettingsForm(forms.Form):
    """A protocol version's journey settings: expected days per phase, conditioning default,
    follow-up visits (one per line: "D+14 ±2: what is asked"), pre-infusion baseline."""

    conditioning_regimen = forms.CharField(label=_("Conditioning regimen"), max_length=200)
    conditioning_start_day = forms.IntegerField(label=_("Conditioning from day"))
    conditioning_end_day = forms.IntegerField(label=_("Conditioning to day"))
    follow_up_visits = forms.CharField(
        label=_("Follow-up visits"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_('One per line: "D+14 ±2: what is asked". Day 1–1825, window 0–60 days.'),
    )
    baseline_handwriting = forms.BooleanField(
        label=_("Ask for a baseline handwriting sample"), required=False
    )
    baseline_labs = forms.MultipleChoiceField(
        label=_("Pre-infusion labs"), required=False, widget=forms.CheckboxSelectMultiple
    )
    change_note = forms.CharField(
        label=_("Change note"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What changed and why: kept with the version and in the audit log."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["baseline_labs"].choices = [
            (lab, journey.lab_label(lab)) for lab in journey.LAB_RANGES
        ]
        low, high = journey_rules.CONDITIONING_DAY_RANGE
        for name in ("conditioning_start_day", "conditioning_end_day"):
            self.fields[name].min_value = low
            self.fields[name].help_text = f"{low}…{high}"
        for phase in journey_rules.RECORDED_PHASES:
            for end in ("low", "high"):
                self.fields[f"days_{phase}_{end}"] = forms.IntegerField(
                    label=_("%(phase)s: expected days, %(end)s")
                    % {"phase": Phase(phase).label, "end": _("from") if end == "low" else _("to")},
                    required=False,
                )

    @staticmethod
    def initial_for(version) -> dict:
        initial = {
            "conditioning_regimen": version.conditioning_regimen,
            "conditioning_start_day": version.conditioning_start_day,
            "conditioning_end_day": version.conditioning_end_day,
            "follow_up_visits": journey.visits_text(version.follow_up_visits),
            "baseline_handwriting": version.baseline_handwriting,
            "baseline_labs": version.baseline_labs,
        }
        for phase in journey_rules.RECORDED_PHASES:
            days = journey_rules.phase_days(version.phase_days, phase)
            if days:
                initial[f"days_{phase}_low"], initial[f"days_{phase}_high"] = days
        return initial

    def phase_fields(self):
        return [
            (self[f"days_{p}_low"], self[f"days_{p}_high"]) for p in journey_rules.RECORDED_PHASES
        ]

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get("follow_up_visits")
        if text is not None:
            try:
                cleaned["visits"] = journey.parse_visits(text)
            except forms.ValidationError as error:
                self.add_error("follow_up_visits", error)
        phase_days = {}
        for phase in journey_rules.RECORDED_PHASES:
            low, high = cleaned.get(f"days_{phase}_low"), cleaned.get(f"days_{phase}_high")
            if low is None and high is None:
                continue
            phase_days[phase] = [low, high]
        cleaned["phase_days"] = phase_days
        return cleaned

    def changes(self) -> dict:
        data = self.cleaned_data
        return {
            "conditioning_regimen": data["conditioning_regimen"].strip(),
            "conditioning_start_day": data["conditioning_start_day"],
            "conditioning_end_day": data["conditioning_end_day"],
            "follow_up_visits": data["visits"],
            "baseline_handwriting": data["baseline_handwriting"],
            "baseline_labs": list(data["baseline_labs"]),
            "phase_days": data["phase_days"],
        }
