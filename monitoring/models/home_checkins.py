"""Check-ins at home (issue 15 §2): what a patient or caregiver entered on their phone, beside
the bedside check it became.

The clinical values (temperature in °C, blood pressure, pulse, symptoms, the antipyretic taken)
are the ordinary records of a ``BedsideCheck`` with setting "home", graded by the same engine as
the ward's (``monitoring/home_checkins.py`` writes them through ``services.record_check``). This
row keeps what only home has: who entered it (patient or caregiver), the temperature as typed
with its unit, which medicine for fever and when, the guided neurological screen the caregiver
ran, and the instruction the person was shown at once (``monitoring/home_rules.py``). Rows are
never edited: a correction is the care team's, on the clinical records.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring import flag_rules
from monitoring.flag_messages import TEMPLATES
from monitoring.models.courses import BedsideCheck, TreatmentCourse
from monitoring.models.home import HomeAccess, HomeKind

# The temperature as typed (°C or °F): a thermometer's range, the same as the ward's in °C
# (VITAL_RANGES["temp_c"], 30-45 °C = 86-113 °F). home_checkins converts °F and refuses outside.
TYPED_TEMPERATURE_RANGES = {"c": (30, 45), "f": (86, 113)}


class HomeCheckIn(models.Model):
    """One check-in from home: its bedside check, who entered it, and what they were told."""

    class TemperatureUnit(models.TextChoices):
        CELSIUS = "c", "°C"
        FAHRENHEIT = "f", "°F"

    class FeverMedicine(models.TextChoices):
        NONE = "", _("None")
        PARACETAMOL = "paracetamol", _("Paracetamol (acetaminophen)")
        IBUPROFEN = "ibuprofen", _("Ibuprofen")

    class Instruction(models.TextChoices):
        # home_rules.Instruction's codes; the words are the page's, in the reader's language.
        CALL_NEURO = "call_neuro", _("Call now; do not drive; emergency department if no answer")
        CALL_NOW = "call_now", _("Call the team now")
        NO_ACTION = "no_action", _("No action now")

    check_entry = models.OneToOneField(BedsideCheck, models.PROTECT, related_name="home_checkin")
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="home_checkins")
    access = models.ForeignKey(HomeAccess, models.PROTECT, related_name="checkins")
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    entered_by_kind = models.CharField(_("entered by"), max_length=16, choices=HomeKind.choices)
    entered_at = models.DateTimeField(default=timezone.now, editable=False)
    temperature_typed = models.DecimalField(
        _("temperature as typed"), max_digits=4, decimal_places=1
    )
    temperature_unit = models.CharField(max_length=1, choices=TemperatureUnit.choices)
    fever_medicine = models.CharField(
        _("medicine for fever"), max_length=16, choices=FeverMedicine.choices, blank=True
    )
    fever_medicine_at = models.DateTimeField(_("medicine taken at"), null=True, blank=True)
    # The check that holds the medicine as a treatment at the time it was taken, so the engine
    # sees it where it masks a fever (timeline.MASKING_DRUGS, reference §1.2 rule 2).
    fever_medicine_check = models.OneToOneField(
        BedsideCheck, models.PROTECT, null=True, blank=True, related_name="home_medicine_of"
    )
    instruction = models.CharField(max_length=16, choices=Instruction.choices)
    next_checkin_at = models.DateTimeField(null=True, blank=True)
    # The form's one-time token: the same form sent twice (a double tap, a phone resending on a
    # bad network) saves one check-in (home_checkins.record_home_checkin). Blank for a caller
    # without a form (the demo).
    submission = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-entered_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(entered_by_kind__in=list(HomeKind.values)),
                name="home_checkin_kind_known",
            ),
            models.CheckConstraint(
                condition=(
                    Q(temperature_unit="c")
                    & Q(temperature_typed__gte=TYPED_TEMPERATURE_RANGES["c"][0])
                    & Q(temperature_typed__lte=TYPED_TEMPERATURE_RANGES["c"][1])
                )
                | (
                    Q(temperature_unit="f")
                    & Q(temperature_typed__gte=TYPED_TEMPERATURE_RANGES["f"][0])
                    & Q(temperature_typed__lte=TYPED_TEMPERATURE_RANGES["f"][1])
                ),
                name="home_checkin_temperature_plausible",
            ),
            # A medicine has its time; no time without a medicine.
            models.CheckConstraint(
                condition=(Q(fever_medicine="") & Q(fever_medicine_at__isnull=True))
                | (~Q(fever_medicine="") & Q(fever_medicine_at__isnull=False)),
                name="home_checkin_medicine_has_time",
            ),
            models.CheckConstraint(
                condition=Q(instruction__in=["call_neuro", "call_now", "no_action"]),
                name="home_checkin_instruction_known",
            ),
        ]
        indexes = [
            # The home page: a course's check-ins of today, newest first.
            models.Index(fields=["course", "entered_at"], name="home_checkin_course_idx"),
        ]

    def __str__(self) -> str:
        return f"Home check-in by {self.get_entered_by_kind_display()} at {self.entered_at:%H:%M}"

    @property
    def temperature_text(self) -> str:
        return f"{self.temperature_typed} {self.get_temperature_unit_display()}"


# The guided screen's items, in the order the caregiver runs them (issue 15 §2): orientation
# (year, month, place), naming three objects, following a command, counting backwards from 100
# by tens. The handwriting sample is another page's (issue 15 §2, built separately).
SCREEN_ITEMS = flag_rules.HOME_SCREEN_ITEMS


class HomeNeuroScreen(models.Model):
    """The guided neurological screen a caregiver ran at home: each item marked right or wrong
    by the caregiver. Not an ICE score (no one trained scored it): a wrong answer is flagged for
    the team's review (home_rules.home_neuro_flag), never graded as ICANS."""

    checkin = models.OneToOneField(HomeCheckIn, models.PROTECT, related_name="neuro_screen")
    year = models.BooleanField(_("knows the year"))
    month = models.BooleanField(_("knows the month"))
    place = models.BooleanField(_("knows where they are"))
    naming = models.BooleanField(_("names three objects"))
    command = models.BooleanField(_("follows a simple command"))
    counting = models.BooleanField(_("counts back from 100 by tens"))

    def __str__(self) -> str:
        return f"Home neuro screen: {self.wrong_count} wrong of {len(SCREEN_ITEMS)}"

    @property
    def wrong_items(self) -> list[str]:
        return [item for item in SCREEN_ITEMS if not getattr(self, item)]

    @property
    def wrong_count(self) -> int:
        return len(self.wrong_items)

    @property
    def wrong_labels(self) -> list[str]:
        """The items answered wrongly, named as the flag names them ("year", "naming three
        objects"): the fields' own names ("knows the year") read as right answers in a list
        of wrong ones."""
        return [str(TEMPLATES[f"home.screen.{item}"]) for item in self.wrong_items]
