"""Monitoring protocols as versioned data: schedules, thresholds and escalation text.

Every centre runs its own protocol (reference §6: nobody agrees how often to do ICE). A course
keeps the protocol version it started with; editing a version that a course uses creates a new
version (``services.revise_protocol``), so what a nurse was asked to do stays on record.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from monitoring import (
    alert_rules,
    flag_rules,
    grading,
    home_schedule,
    infection_rules,
    journey_rules,
)
from monitoring.models.constraints import range_constraint
from monitoring.timeline import DEFAULT_WINDOWS, Windows

# The June 2025 CAR-T labels (FDA Safety Communication, 26 June 2025; reference §6.2): stay near
# the treatment centre for 2 weeks and do not drive for 2 weeks after the infusion.
STAY_NEAR_DAYS = 14
NO_DRIVING_DAYS = 14
# Plausible countdowns an admin may set (days from day 0): the old REMS asked for 8 weeks.
HOME_COUNTDOWN_DAYS_RANGE = (1, 365)
# What a patient or caregiver at home is told after a check-in (monitoring/home_rules.py): call
# the team at once at this temperature or higher — the ASTCT fever criterion, ≥ 38.0 °C
# (reference §1.2 rule 1; the CAR-T labels' patient advice says to call for fever) — and when
# the next check-in is due (issue 15 §2: e.g. temperature every 8 hours during the window).
HOME_CALL_TEMPERATURE_C = Decimal("38.0")
HOME_CALL_TEMPERATURE_RANGE = (Decimal("37.0"), Decimal("40.0"))

# Plausible validity windows an admin may set: never shorter than a quarter of an hour,
# never long enough to grade yesterday's values as today's.
WINDOW_RANGES = {
    "point_valid_minutes": (15, 24 * 60),
    "support_confirm_minutes": (15, 24 * 60),
    "neuro_valid_minutes": (60, 48 * 60),
    "masked_fever_window_hours": (24, 30 * 24),
}


def validate_prophylaxis(value) -> None:
    """A prophylaxis checklist the rules can read (infection_rules.checklist_problems)."""
    problems = infection_rules.checklist_problems(value)
    if problems:
        raise ValidationError([gettext(text) % params for text, params in problems])


def validate_product_codes(value) -> None:
    problems = infection_rules.products_problems(value)
    if problems:
        raise ValidationError([gettext(text) % params for text, params in problems])


class CheckType(models.TextChoices):
    VITALS = "vitals", _("Vital signs")
    NEURO = "neuro", _("Neuro assessment (ICE/CAPD)")
    LABS = "labs", _("Labs")
    SYMPTOMS = "symptoms", _("Symptom review")


class Protocol(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProtocolVersionQuerySet(models.QuerySet):
    def for_product(self, product: str):
        """Active versions that apply to a product (an empty product list means all); those
        that name the product first (an engager's own step-up protocol before a catch-all)."""
        versions = [
            v for v in self.filter(is_active=True).order_by("-number") if v.applies_to(product)
        ]
        return sorted(versions, key=lambda v: product not in v.products)

    def with_course_counts(self):
        """``course_count`` (every course ever on the version) and ``running_count`` (those
        still under monitoring, which the version's schedule drives), for ``usage_label``."""
        from monitoring.models.courses import TreatmentCourse  # courses import this module

        running = Q(courses__status=TreatmentCourse.Status.MONITORING)
        return self.annotate(
            course_count=models.Count("courses"),
            running_count=models.Count("courses", filter=running),
        )


class ProtocolVersion(models.Model):
    """One frozen-once-used version of a protocol."""

    protocol = models.ForeignKey(Protocol, models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(
        default=True,
        help_text=_("New courses start on the newest active version for their product."),
    )
    is_template = models.BooleanField(
        default=True,
        help_text=_("Still the shipped template: each centre must review it before clinical use."),
    )
    products = models.JSONField(
        default=list,
        blank=True,
        help_text=_("CAR-T products this version applies to (codes); empty means every product."),
    )
    # US labels since June 2025: monitor at least 2 weeks, daily for the first (reference §6.2).
    monitoring_window_days = models.PositiveSmallIntegerField(default=14)
    # What patients at home are told (issue 15 §1, the home page's countdowns): stay near the
    # treatment centre, and do not drive, for this many days from day 0. The CAR-T labels since
    # the REMS removal of June 2025: 2 weeks each (reference §6.2). Blank: no countdown (the
    # engager templates, whose labels say something else: docs/clinical-rules.md).
    stay_near_days = models.PositiveSmallIntegerField(
        _("stay near the treatment centre for (days from day 0)"),
        null=True,
        blank=True,
        default=STAY_NEAR_DAYS,
        help_text=_("Blank: the home page shows no such countdown."),
    )
    no_driving_days = models.PositiveSmallIntegerField(
        _("no driving for (days from day 0)"),
        null=True,
        blank=True,
        default=NO_DRIVING_DAYS,
        help_text=_("Blank: the home page shows no such countdown."),
    )
    home_call_temperature_c = models.DecimalField(
        _("at home: call the team at or above (°C)"),
        max_digits=3,
        decimal_places=1,
        default=HOME_CALL_TEMPERATURE_C,
        help_text=_("The temperature at which a patient at home is told to call at once."),
    )
    # Home check-ins (issue 15 §2; home_schedule): a patient or caregiver with an open home access
    # checks in every this many hours; one not done this many minutes after its due time flags
    # the team (home_sweep.sweep). Blank interval: no home schedule. Defaults and their
    # sources: home_schedule's docstring and docs/clinical-rules.md ("Home check-ins").
    home_checkin_interval_hours = models.PositiveSmallIntegerField(
        _("home check-in every (h)"),
        null=True,
        blank=True,
        default=home_schedule.DEFAULT_INTERVAL_HOURS,
        help_text=_("Blank: no home check-in schedule (no reminders, no missed check-in flags)."),
    )
    home_checkin_grace_minutes = models.PositiveSmallIntegerField(
        _("missed home check-in flags the team after (min)"),
        default=home_schedule.DEFAULT_GRACE_MINUTES,
        help_text=_("Minutes after the due time; the patient is reminded at the due time."),
    )
    # Vital-sign thresholds (grading.VitalThresholds); blank SBP means the age-based limit.
    sbp_low_mmhg = models.PositiveSmallIntegerField(
        _("hypotension: SBP below (mmHg)"),
        null=True,
        blank=True,
        help_text=_("Blank: adults < 90 mmHg, children by PALS age limits (reference §1.3)."),
    )
    heart_rate_high = models.PositiveSmallIntegerField(
        _("tachycardia: HR at or above"), default=131
    )
    heart_rate_low = models.PositiveSmallIntegerField(_("bradycardia: HR at or below"), default=40)
    resp_rate_high = models.PositiveSmallIntegerField(_("RR at or above"), default=25)
    resp_rate_low = models.PositiveSmallIntegerField(_("RR at or below"), default=8)
    spo2_low_pct = models.PositiveSmallIntegerField(_("SpO₂ at or below (%)"), default=91)
    temperature_high_c = models.DecimalField(
        _("fever at or above (°C)"), max_digits=3, decimal_places=1, default=Decimal("38.0")
    )
    marker_rise_factor = models.DecimalField(
        _("CRP/ferritin rise within 24 h (×)"),
        max_digits=3,
        decimal_places=1,
        default=Decimal("2.0"),
    )
    # How long each kind of value counts as current in a grade (timeline.Windows): point
    # measurements, oxygen/vasopressors before they must be re-confirmed, the neuro assessment
    # before it is marked stale, and the masked-fever window after tocilizumab or steroids.
    point_valid_minutes = models.PositiveSmallIntegerField(
        _("vital signs count as current for (min)"),
        default=int(DEFAULT_WINDOWS.point.total_seconds() // 60),
        help_text=_("Temperature, BP, HR, RR, SpO₂: default the 4-hourly round + 1 h grace."),
    )
    support_confirm_minutes = models.PositiveSmallIntegerField(
        _("oxygen/vasopressors re-confirmed within (min)"),
        default=int(DEFAULT_WINDOWS.support.total_seconds() // 60),
        help_text=_("Carried forward until changed; older than this, the grade asks for review."),
    )
    neuro_valid_minutes = models.PositiveSmallIntegerField(
        _("ICE/CAPD stale after (min)"),
        default=int(DEFAULT_WINDOWS.neuro.total_seconds() // 60),
        help_text=_("Default: the 8-hourly neuro check + 1 h grace (reference §6.1)."),
    )
    masked_fever_window_hours = models.PositiveSmallIntegerField(
        _("masked fever after tocilizumab/steroids for (h)"),
        default=int(DEFAULT_WINDOWS.masked_fever.total_seconds() // 3600),
        help_text=_(
            "New hypotension or hypoxia this long after the dose is graded as CRS, with review."
        ),
    )
    # {"oxygen_need": 3, ...}: severity of each deterioration flag; missing kinds use
    # flag_rules.DETERIORATION_SEVERITY.
    deterioration_severity = models.JSONField(default=dict, blank=True)
    # {"crs": {"0": "...", ..., "4": "..."}, "icans": {...}}; missing grades use the defaults.
    escalation = models.JSONField(default=dict, blank=True)
    # Escalation until someone acknowledges (alert_rules): minutes a flag may wait by severity
    # ({"4": 5, "3": 15, "2": 60}; missing severities use alert_rules.DEFAULT_ACK_MINUTES), the
    # ladder of tiers it climbs, and the grace before an overdue check tells the nurse in charge.
    ack_minutes = models.JSONField(
        _("minutes a flag may wait unacknowledged, by severity"), default=dict, blank=True
    )
    escalation_ladder = models.JSONField(
        _("escalation ladder (tiers, lowest first)"), default=list, blank=True
    )
    overdue_grace_minutes = models.PositiveSmallIntegerField(
        _("overdue check tells the nurse in charge after (min)"),
        default=alert_rules.DEFAULT_OVERDUE_GRACE_MINUTES,
    )
    # Infection prevention (issue 14 §3; infection_rules, reference §4.6). The checklist is a
    # list of items (infection_rules.ITEM_KEYS), validated wherever it is saved.
    prophylaxis = models.JSONField(
        _("prophylaxis checklist"),
        default=infection_rules.default_prophylaxis,
        blank=True,
        validators=[validate_prophylaxis],
    )
    igg_replace_below_mg_dl = models.PositiveSmallIntegerField(
        _("immunoglobulin replacement: IgG below (mg/dL)"),
        null=True,
        blank=True,
        default=infection_rules.DEFAULT_IGG_THRESHOLD_MG_DL,
        help_text=_("Blank: no threshold (only the products below)."),
    )
    igg_replace_products = models.JSONField(
        _("immunoglobulin replacement for everyone on"),
        default=list,
        blank=True,
        validators=[validate_product_codes],
        help_text=_("Product codes whose every patient gets immunoglobulin replacement."),
    )
    neutropenia_anc_10e9_l = models.DecimalField(
        _("neutropenic: ANC below (×10⁹/L)"),
        max_digits=3,
        decimal_places=2,
        default=infection_rules.DEFAULT_ANC_THRESHOLD,
    )
    anc_valid_hours = models.PositiveSmallIntegerField(
        _("an ANC counts for neutropenic fever for (h)"),
        default=infection_rules.DEFAULT_ANC_VALID_HOURS,
    )
    notify_patient_names = models.BooleanField(
        _("patient names in e-mail, push and pager text"),
        default=False,
        help_text=_("Off: messages say only the unit, bed and severity (minimum necessary)."),
    )
    # The treatment journey (journey_rules; edited on the version's journey page): expected
    # days per phase ({"manufacturing": [14, 28]}; missing phases use the defaults), the
    # conditioning default, the follow-up visits and the pre-infusion baseline it asks for.
    phase_days = models.JSONField(_("expected days per phase"), default=dict, blank=True)
    conditioning_regimen = models.CharField(
        _("conditioning regimen"),
        max_length=200,
        default=journey_rules.DEFAULT_CONDITIONING_REGIMEN,
        blank=True,
    )
    conditioning_start_day = models.SmallIntegerField(
        _("conditioning from day"), default=journey_rules.DEFAULT_CONDITIONING_DAYS[0]
    )
    conditioning_end_day = models.SmallIntegerField(
        _("conditioning to day"), default=journey_rules.DEFAULT_CONDITIONING_DAYS[1]
    )
    follow_up_visits = models.JSONField(
        _("follow-up visits"), default=journey_rules.default_visits, blank=True
    )
    baseline_handwriting = models.BooleanField(
        _("baseline handwriting sample"),
        default=False,
        help_text=_("Ask for a handwriting sample before infusion (reference §4.5: BCMA)."),
    )
    baseline_labs = models.JSONField(
        _("pre-infusion labs"), default=journey_rules.default_baseline_labs, blank=True
    )
    change_note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    objects = ProtocolVersionQuerySet.as_manager()

    class Meta:
        ordering = ["protocol", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "number"], name="protocol_version_unique"),
            range_constraint("protocol", "monitoring_window_days", 1, 365),
            range_constraint("protocol", "stay_near_days", *HOME_COUNTDOWN_DAYS_RANGE),
            range_constraint("protocol", "no_driving_days", *HOME_COUNTDOWN_DAYS_RANGE),
            range_constraint(
                "protocol", "home_checkin_interval_hours", *home_schedule.INTERVAL_HOURS_RANGE
            ),
            range_constraint(
                "protocol", "home_checkin_grace_minutes", *home_schedule.GRACE_MINUTES_RANGE
            ),
            range_constraint("protocol", "sbp_low_mmhg", 40, 150),
            range_constraint("protocol", "spo2_low_pct", 70, 99),
            range_constraint("protocol", "temperature_high_c", 37, 40),
            range_constraint("protocol", "home_call_temperature_c", *HOME_CALL_TEMPERATURE_RANGE),
            range_constraint("protocol", "marker_rise_factor", Decimal("1.1"), 10),
            *[
                range_constraint("protocol", name, low, high)
                for name, (low, high) in WINDOW_RANGES.items()
            ],
            range_constraint("protocol", "overdue_grace_minutes", *alert_rules.OVERDUE_GRACE_RANGE),
            range_constraint(
                "protocol", "igg_replace_below_mg_dl", *infection_rules.IGG_THRESHOLD_RANGE
            ),
            range_constraint(
                "protocol", "neutropenia_anc_10e9_l", *infection_rules.ANC_THRESHOLD_RANGE
            ),
            range_constraint("protocol", "anc_valid_hours", *infection_rules.ANC_VALID_HOURS_RANGE),
            range_constraint(
                "protocol", "conditioning_start_day", *journey_rules.CONDITIONING_DAY_RANGE
            ),
            range_constraint(
                "protocol", "conditioning_end_day", *journey_rules.CONDITIONING_DAY_RANGE
            ),
            models.CheckConstraint(
                condition=Q(conditioning_start_day__lte=models.F("conditioning_end_day")),
                name="protocol_conditioning_in_order",
                violation_error_message=_("Conditioning must start on or before its last day."),
            ),
            models.CheckConstraint(
                condition=Q(heart_rate_low__lt=models.F("heart_rate_high"))
                & Q(resp_rate_low__lt=models.F("resp_rate_high")),
                name="protocol_limits_not_crossed",
                violation_error_message=_("Each low limit must be below its high limit."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} v{self.number}"

    def applies_to(self, product: str) -> bool:
        """Whether courses of this CAR-T product may follow the version (no products: all)."""
        return not self.products or product in self.products

    @property
    def usage_label(self) -> str:
        """ "active"; "in use by 12 courses · not offered for new courses" for a version that
        new courses no longer get but running ones still follow; else "inactive". Reads the
        ``running_count`` of ``with_course_counts()``."""
        if self.is_active:
            return gettext("active")
        running = getattr(self, "running_count", 0)
        if running:
            return ngettext(
                "in use by %(count)d course · not offered for new courses",
                "in use by %(count)d courses · not offered for new courses",
                running,
            ) % {"count": running}
        return gettext("inactive")

    def home_checkin_interval(self) -> timedelta | None:
        """How often a home check-in is due; None: the version sets no home schedule."""
        hours = self.home_checkin_interval_hours
        return timedelta(hours=hours) if hours else None

    def thresholds(self) -> grading.VitalThresholds:
        return grading.VitalThresholds(
            heart_rate_high=self.heart_rate_high,
            heart_rate_low=self.heart_rate_low,
            resp_rate_high=self.resp_rate_high,
            resp_rate_low=self.resp_rate_low,
            spo2_low=self.spo2_low_pct,
            sbp_low=self.sbp_low_mmhg,
            temperature_high=float(self.temperature_high_c),
        )

    def windows(self) -> Windows:
        return Windows(
            point=timedelta(minutes=self.point_valid_minutes),
            support=timedelta(minutes=self.support_confirm_minutes),
            neuro=timedelta(minutes=self.neuro_valid_minutes),
            masked_fever=timedelta(hours=self.masked_fever_window_hours),
        )

    def deterioration_severity_for(self, kind: str) -> int:
        """The protocol's severity for a deterioration flag, or flag_rules' default."""
        value = self.deterioration_severity.get(kind)
        return int(value) if value else flag_rules.DETERIORATION_SEVERITY[kind]

    def ack_limit_for(self, severity: int) -> timedelta | None:
        """How long a flag of this severity may wait unacknowledged; None: never escalates."""
        return alert_rules.ack_limit(severity, self.ack_minutes)

    def ladder(self) -> list[str]:
        """The tiers a flag climbs, lowest first (alert_rules.DEFAULT_LADDER when unset)."""
        return list(self.escalation_ladder) or list(alert_rules.DEFAULT_LADDER)

    def escalation_text(self, domain: str, grade: int) -> str:
        """The protocol's text for a grade, or the ASCO-based default (flag_rules)."""
        return (
            self.escalation.get(domain, {}).get(str(grade)) or flag_rules.ESCALATION[domain][grade]
        )

    def schedule_for(self, check_type: str) -> CheckSchedule | None:
        """From prefetched schedules when available (worklists prefetch them)."""
        for schedule in self.schedules.all():
            if schedule.check_type == check_type:
                return schedule
        return None


class CheckSchedule(models.Model):
    """How often a check type is due, tightening while the patient is sick."""

    version = models.ForeignKey(ProtocolVersion, models.CASCADE, related_name="schedules")
    check_type = models.CharField(max_length=16, choices=CheckType.choices)
    interval_minutes = models.PositiveIntegerField(help_text=_("Usual interval, in minutes."))
    tightened_interval_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Interval while any condition below holds.")
    )
    tighten_at_crs_grade = models.PositiveSmallIntegerField(
        _("tighten at CRS grade ≥"), null=True, blank=True
    )
    tighten_at_icans_grade = models.PositiveSmallIntegerField(
        _("tighten at ICANS grade ≥"), null=True, blank=True
    )
    tighten_on_neuro_change = models.BooleanField(
        _("tighten once any ICE point is lost (or CAPD ≥ 1)"), default=False
    )
    # A second, milder tier: reference §6.1 asks for vital signs every 2 h with fever, and every
    # hour is kept for CRS ≥ 2. What "febrile" means is schedule.is_febrile's to say.
    febrile_interval_minutes = models.PositiveIntegerField(
        _("interval while febrile"),
        null=True,
        blank=True,
        help_text=_("Interval while the patient has fever (any CRS grade), in minutes."),
    )
    history = HistoricalRecords()

    # What an admin sets on a schedule (the protocol form, services.revise_protocol's copies).
    SETTINGS = [
        "interval_minutes",
        "tightened_interval_minutes",
        "tighten_at_crs_grade",
        "tighten_at_icans_grade",
        "tighten_on_neuro_change",
        "febrile_interval_minutes",
    ]

    class Meta:
        ordering = ["check_type"]
        constraints = [
            models.UniqueConstraint(fields=["version", "check_type"], name="one_schedule_per_type"),
            range_constraint("schedule", "interval_minutes", 15, 7 * 24 * 60),
            range_constraint("schedule", "tightened_interval_minutes", 5, 7 * 24 * 60),
            range_constraint("schedule", "tighten_at_crs_grade", 1, 4),
            range_constraint("schedule", "tighten_at_icans_grade", 1, 4),
            range_constraint("schedule", "febrile_interval_minutes", 5, 7 * 24 * 60),
        ]

    def __str__(self) -> str:
        return f"{self.get_check_type_display()} every {self.interval_minutes} min"

    def settings(self) -> dict:
        """This schedule's settings by name (to copy it into a new protocol version)."""
        return {name: getattr(self, name) for name in self.SETTINGS}

    def interval(
        self, *, crs_grade, icans_grade, neuro_changed: bool, febrile: bool = False
    ) -> timedelta:
        """The interval that applies to a patient in this state: the shortest of the usual
        one, the tightened one while any of its conditions holds, and the febrile one while
        febrile (``schedule.is_febrile``)."""
        minutes = [self.interval_minutes]
        if self.tightened_interval_minutes and (
            (self.tighten_at_crs_grade and (crs_grade or 0) >= self.tighten_at_crs_grade)
            or (self.tighten_at_icans_grade and (icans_grade or 0) >= self.tighten_at_icans_grade)
            or (self.tighten_on_neuro_change and neuro_changed)
        ):
            minutes.append(self.tightened_interval_minutes)
        if self.febrile_interval_minutes and febrile:
            minutes.append(self.febrile_interval_minutes)
        return timedelta(minutes=min(minutes))
