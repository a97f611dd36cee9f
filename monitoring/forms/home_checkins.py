"""The check-in form at home (issue 15 §2): plain words, the person's own units. What is
allowed and every limit is monitoring/home_checkins.py's; this form only reads the page."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from monitoring.home_checkins import HOME_SYMPTOMS
from monitoring.models import HomeCheckIn
from monitoring.models.home_checkins import SCREEN_ITEMS, TYPED_TEMPERATURE_RANGES

# The symptom checklist in plain words (SymptomCheck's fields), in HOME_SYMPTOMS' order.
SYMPTOM_WORDS = {
    "fever": _("Feeling hot, cold or shivery"),
    "low_blood_pressure": _("Feeling faint or dizzy"),
    "fatigue": _("Very tired or weak"),
    "breathing_difficulty": _("Trouble breathing or short of breath"),
    "confusion": _("Confused, muddled or not making sense"),
    "headache": _("Headache"),
    "tremor": _("Shaking or trembling hands"),
    "difficulty_speaking": _("Trouble speaking or finding words"),
}
# The guided screen's steps: what the caregiver asks, in the order they ask it.
SCREEN_STEPS = {
    "year": _('Ask: "What year is it?"'),
    "month": _('Ask: "What month is it?"'),
    "place": _('Ask: "Where are we now?" (the town, or the place you are in)'),
    "naming": _(
        "Point to three things one by one (for example a clock, a pen and a button) and ask "
        "what each is called. Right only if all three are named."
    ),
    "command": _('Ask: "Show me two fingers, then close your eyes."'),
    "counting": _(
        'Ask: "Count backwards from 100 in tens." Right if they say 100, 90, 80 … down to 10.'
    ),
}
ANSWERS = [("right", pgettext_lazy("screen answer", "Right")), ("wrong", _("Wrong"))]
TOUCH = {"class": "form-control form-control-lg"}
# Where each of the service's messages goes on the page.
ERROR_FIELDS = {
    "fever_medicine_at": "fever_medicine_time",
    "screen": "screen_year",
    "vitals": None,
    "symptoms": "symptoms",
}


class HomeCheckInForm(forms.Form):
    # One token per form shown: sent twice, it saves one check-in (record_home_checkin).
    submission = forms.UUIDField(widget=forms.HiddenInput, required=False)
    temperature = forms.DecimalField(
        label=_("Temperature"),
        max_digits=5,
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "decimal", "step": "0.1"}),
        error_messages={
            "required": _("Type the temperature (for example 37.2)."),
            "invalid": _("Type the temperature as a number, for example 37.2."),
        },
    )
    temperature_unit = forms.ChoiceField(
        label=_("Unit"),
        choices=HomeCheckIn.TemperatureUnit.choices,
        initial="c",
        widget=forms.RadioSelect,
    )
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms now"),
        choices=[(name, SYMPTOM_WORDS[name]) for name in HOME_SYMPTOMS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    no_symptoms = forms.BooleanField(label=_("None of these"), required=False)
    # A tapped answer cannot be untapped on a phone: this skips the whole screen, whatever
    # was marked (an incomplete screen is refused, so without it the only way out was to
    # reload and lose everything typed).
    skip_screen = forms.BooleanField(
        label=_("We cannot do these questions now: skip them"), required=False
    )
    sbp_mmhg = forms.IntegerField(
        label=_("Blood pressure: top number"),
        help_text=_("For example 120 in 120/80."),
        required=False,
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "numeric"}),
    )
    dbp_mmhg = forms.IntegerField(
        label=_("Blood pressure: bottom number"),
        help_text=_("For example 80 in 120/80."),
        required=False,
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "numeric"}),
    )
    heart_rate_bpm = forms.IntegerField(
        label=_("Pulse (beats a minute)"),
        required=False,
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "numeric"}),
    )
    fever_medicine = forms.ChoiceField(
        label=_("Medicine for fever or pain in the last 24 hours"),
        choices=[
            ("", _("None")),
            *[(v, label) for v, label in HomeCheckIn.FeverMedicine.choices if v],
        ],
        required=False,
        initial="",
        widget=forms.RadioSelect,
    )
    fever_medicine_time = forms.TimeField(
        label=_("What time was it taken?"),
        required=False,
        widget=forms.TimeInput(attrs={**TOUCH, "type": "time"}, format="%H:%M"),
        error_messages={"invalid": _("Type the time as hours and minutes, for example 14:30.")},
    )
    fever_medicine_mg = forms.IntegerField(
        label=_("How much (mg)? It is on the pack, for example 500."),
        required=False,
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "numeric"}),
    )

    def __init__(self, *args, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self.fields["submission"].initial = uuid.uuid4
        (c_low, c_high), (f_low, f_high) = (TYPED_TEMPERATURE_RANGES[u] for u in ("c", "f"))
        self.fields["temperature"].help_text = gettext(
            "From %(c_low)s to %(c_high)s °C, or %(f_low)s to %(f_high)s °F. Choose the unit below."
        ) % {"c_low": c_low, "c_high": c_high, "f_low": f_low, "f_high": f_high}
        for item in SCREEN_ITEMS:
            self.fields[f"screen_{item}"] = forms.ChoiceField(
                label=SCREEN_STEPS[item], choices=ANSWERS, required=False, widget=forms.RadioSelect
            )

    @property
    def screen_fields(self):
        return [self[f"screen_{item}"] for item in SCREEN_ITEMS]

    def medicine_taken_at(self) -> datetime | None:
        """The time typed, today — or yesterday when today's would be in the future."""
        time = self.cleaned_data.get("fever_medicine_time")
        if not self.cleaned_data.get("fever_medicine") or time is None:
            return None
        local_now = timezone.localtime(self.now)
        at = timezone.make_aware(datetime.combine(local_now.date(), time))
        return at - timedelta(days=1) if at > self.now + timedelta(minutes=5) else at

    def screen(self) -> dict | None:
        """The screen's answers (True: right), None when skipped; an incomplete screen is
        passed on as it is, for the service to refuse."""
        answers = {item: self.cleaned_data.get(f"screen_{item}") for item in SCREEN_ITEMS}
        if self.cleaned_data.get("skip_screen") or not any(answers.values()):
            return None
        return {item: {"right": True, "wrong": False}.get(a) for item, a in answers.items()}

    def values(self) -> dict:
        """What ``home_checkins.record_home_checkin`` takes."""
        data = self.cleaned_data
        return {
            "temperature": data["temperature"],
            "temperature_unit": data["temperature_unit"],
            "symptoms": data["symptoms"],
            "no_symptoms": data["no_symptoms"],
            "sbp_mmhg": data["sbp_mmhg"],
            "dbp_mmhg": data["dbp_mmhg"],
            "heart_rate_bpm": data["heart_rate_bpm"],
            "fever_medicine": data["fever_medicine"] or "",
            "fever_medicine_at": self.medicine_taken_at(),
            "fever_medicine_mg": data["fever_medicine_mg"],
            "screen": self.screen(),
            "submission": data.get("submission"),
        }

    def add_service_errors(self, error) -> None:
        """A refusal of the service, on the fields it names (or the form)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, messages in error.message_dict.items():
            field = ERROR_FIELDS.get(name, name)
            if field not in self.fields:
                field = None
            for message in messages:
                self.add_error(field, message)
