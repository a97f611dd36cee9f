"""A CAR T-cell treatment course, its bedside checks and its denormalised status."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from monitoring import grading
from monitoring.models.constraints import EARLIEST_MOMENT, LATEST_MOMENT, between
from monitoring.models.people import Patient, Unit
from monitoring.models.products import TherapyProduct


def day_label(day: int) -> str:
    """ "D+n" for day n since the infusion date (day 0); "D-1" for a baseline the day before."""
    return f"D+{day}" if day >= 0 else f"D{day}"


class CareSetting(models.TextChoices):
    """Where the patient is looked after: set at admission, changed by
    ``services.change_care_setting`` (audited old → new with why)."""

    INPATIENT = "inpatient", _("Inpatient")
    OUTPATIENT = "outpatient", _("Outpatient")


class CheckSetting(models.TextChoices):
    """Where a check was done; what a setting cannot measure is ``REMOTE_CHECKS`` below."""

    WARD = "ward", _("Ward")
    CLINIC = "clinic", _("Clinic visit")
    PHONE = "phone", _("Phone call")
    # Entered by the patient or a caregiver on the home pages (issue 15), never by staff.
    HOME = "home", _("Home")


# The settings a member of staff records a check in (the check page's choices). A home entry
# is the patient's or caregiver's own, through the home check-in.
STAFF_CHECK_SETTINGS = (CheckSetting.WARD, CheckSetting.CLINIC, CheckSetting.PHONE)


# The setting a check page offers first, from the course's care setting.
DEFAULT_CHECK_SETTING = {
    CareSetting.INPATIENT: CheckSetting.WARD,
    CareSetting.OUTPATIENT: CheckSetting.CLINIC,
}

# What a check in a setting where nobody examines the patient can record: setting -> (sections,
# vital-sign values). By phone the patient (or a carer) reports symptoms, a temperature taken at
# home and medicines taken (an antipyretic masks fever, reference §1.2.2); nothing else is
# measured — no pulse, blood pressure, SpO2 or oxygen device, no ICE/CAPD screen (naming objects
# and writing need the patient in front of you), no lab. At home the patient or caregiver also
# takes blood pressure and pulse when they have a cuff (issue 15 §2); no SpO2, oxygen, pressors,
# ICE/CAPD (the caregiver's neuro screen is not ICE: it is reviewed, never graded) or labs.
# Settings not listed record everything.
REMOTE_CHECKS = {
    CheckSetting.PHONE: (frozenset({"symptoms", "vitals", "treatment"}), frozenset({"temp_c"})),
    CheckSetting.HOME: (
        frozenset({"symptoms", "vitals", "treatment"}),
        frozenset({"temp_c", "sbp_mmhg", "dbp_mmhg", "heart_rate_bpm"}),
    ),
}


class TreatmentCourseQuerySet(models.QuerySet):
    def under_monitoring(self):
        return self.filter(status=TreatmentCourse.Status.MONITORING)

    def active(self):
        """Planned (before day 0) or under monitoring: a patient has one at a time."""
        return self.filter(status__in=TreatmentCourse.ACTIVE_STATUSES)

    def on_units(self, units):
        return self.filter(unit__in=units)

    def outpatient(self):
        return self.filter(care_setting=CareSetting.OUTPATIENT)


class TreatmentCourse(models.Model):
    """One therapy episode and the monitoring that follows it. Day 0 (``infused_at``) is the
    infusion of a cell therapy or the first dose of a T-cell engager (``day_zero_label``)."""

    class Status(models.TextChoices):
        # Registered at referral, day 0 still planned (journey.register_course); monitoring
        # starts at the infusion (journey.start_monitoring).
        PLANNED = "planned", _("Planned (before day 0)")
        MONITORING = "monitoring", _("Under monitoring")
        COMPLETED = "completed", _("Monitoring completed")
        DISCONTINUED = "discontinued", _("Monitoring discontinued")
        TRANSFERRED_OUT = "transferred_out", _("Transferred out")
        DIED = "died", _("Died")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, models.PROTECT, related_name="courses")
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="courses")
    # Where on the unit: notifications say "Ward 7, bed 3" instead of a name.
    bed = models.CharField(max_length=16, blank=True)
    care_setting = models.CharField(
        _("care setting"), max_length=16, choices=CareSetting.choices, default=CareSetting.INPATIENT
    )
    # Keyed by the product's code in the column "product" (the codes the course table held
    # before products became rows: "axi-cel", ..., "other"; engagers use their INN).
    product = models.ForeignKey(
        TherapyProduct,
        models.PROTECT,
        to_field="code",
        db_column="product",
        related_name="courses",
    )
    product_other = models.CharField(
        "other product", max_length=100, blank=True, help_text="Name of an investigational product"
    )
    indication = models.CharField(max_length=200)
    # Day 0: the infusion of a cell therapy, the first dose of a T-cell engager (day_zero).
    infused_at = models.DateTimeField("infused at (day 0)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.MONITORING)
    # Set by services.end_monitoring, with why; the audit log and history keep the rest.
    monitoring_ended_at = models.DateTimeField("monitoring ended at", null=True, blank=True)
    end_reason = models.CharField("why monitoring ended", max_length=500, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The protocol version the course started with; moving it on is an explicit, audited act.
    protocol_version = models.ForeignKey(
        "monitoring.ProtocolVersion",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="courses",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords()

    objects = TreatmentCourseQuerySet.as_manager()

    ACTIVE_STATUSES = ("planned", "monitoring")

    class Meta:
        ordering = ["-infused_at"]
        constraints = [
            # The nurse's check page resolves "the" course of a patient: one at a time.
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=["planned", "monitoring"]),
                name="one_active_course_per_patient",
                violation_error_message="This patient already has a planned course or one under "
                "monitoring: end it before starting another.",
            ),
            models.CheckConstraint(
                condition=~Q(product="other") | ~Q(product_other=""),
                name="course_other_product_named",
            ),
            # Day 0 in year 9999 broke every unit page; in year 1 a course page ran for
            # minutes. services.check_infusion_time keeps it within the last year and the
            # next week; this is the bound the database can check without a clock.
            models.CheckConstraint(
                condition=between("infused_at", EARLIEST_MOMENT, LATEST_MOMENT),
                name="course_infused_at_plausible",
            ),
            models.CheckConstraint(
                condition=between("monitoring_ended_at", EARLIEST_MOMENT, LATEST_MOMENT),
                name="course_monitoring_ended_at_plausible",
            ),
            models.CheckConstraint(
                condition=Q(care_setting__in=CareSetting.values),
                name="course_care_setting_known",
            ),
            # A course under monitoring has not ended.
            models.CheckConstraint(
                condition=~Q(status="monitoring") | Q(monitoring_ended_at__isnull=True),
                name="course_monitoring_not_ended",
            ),
        ]
        indexes = [
            # Worklist: a unit's courses under monitoring.
            models.Index(fields=["unit", "status"], name="course_unit_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} — {self.product_label} (day 0 {self.infusion_date:%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        return reverse("monitoring:patient-course", args=[self.patient.public_id])

    @property
    def product_label(self) -> str:
        """The product's name for pages and exports (reads ``product``: select_related it)."""
        if self.product_id == "other":
            return self.product_other
        return self.product.label

    @property
    def day_zero_label(self) -> str:
        """What day 0 is for this course: "infusion" or "first dose" (TherapyProduct.day_zero)."""
        return self.product.day_zero_label

    @property
    def is_outpatient(self) -> bool:
        return self.care_setting == CareSetting.OUTPATIENT

    @property
    def default_check_setting(self) -> str:
        """What a new check of this course is marked with unless the nurse says otherwise."""
        return DEFAULT_CHECK_SETTING.get(self.care_setting, CheckSetting.WARD)

    @property
    def is_planned(self) -> bool:
        """Registered for therapy, day 0 (``infused_at``) still the planned infusion."""
        return self.status == self.Status.PLANNED

    @property
    def is_under_monitoring(self) -> bool:
        """Checks, treatments and protocol moves are recorded only while this holds."""
        return self.status == self.Status.MONITORING

    @property
    def infusion_date(self) -> date:
        return timezone.localdate(self.infused_at)

    def day_number(self, at: datetime | None = None) -> int:
        """Calendar days since the infusion date in the local zone (D+0 is the infusion day)."""
        return (timezone.localdate(at or timezone.now()) - self.infusion_date).days

    def day_label(self, at: datetime | None = None) -> str:
        """ "D+n" of a moment (default: now), as every page and export shows it."""
        return day_label(self.day_number(at))

    def hypotension_threshold_mmhg(self, day: date) -> int:
        """SBP below which the patient counts as hypotensive on ``day``: the protocol version's
        limit where it sets one, else the age-based limit of the grading library (§1.3)."""
        version = self.protocol_version
        return grading.hypotension_threshold_mmhg(
            self.patient.age_on(day), protocol_mmhg=version.sbp_low_mmhg if version else None
        )


# A tablet's clock may run a little ahead of the server's: an observation time up to this far
# ahead is accepted as "now" (forms and services refuse anything later as in the future).
CLOCK_SKEW = timedelta(minutes=2)


class BedsideCheck(models.Model):
    """One submission at the bedside: the sections recorded together, at one clinical time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="checks")
    observed_at = models.DateTimeField(help_text="When the patient was assessed")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    # Ward, clinic visit, phone call or home: what could be measured (REMOTE_CHECKS) and what the
    # course page, exports and FHIR say about where a value came from.
    setting = models.CharField(
        _("setting"), max_length=16, choices=CheckSetting.choices, default=CheckSetting.WARD
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(setting__in=CheckSetting.values), name="check_setting_known"
            ),
        ]
        indexes = [
            # Course page and state assembly: a course's checks in clinical order.
            models.Index(fields=["course", "observed_at"], name="check_course_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Check {self.observed_at:%Y-%m-%d %H:%M} for {self.course.patient}"

    @property
    def is_remote(self) -> bool:
        """Nobody from the team examined the patient (phone, home): only reported values."""
        return self.setting in REMOTE_CHECKS


class CourseStatus(models.Model):
    """Denormalised current state of a course, so worklists cost a constant number of queries.

    Written only by ``services`` in the same transaction as the records it summarises; the
    row is also what concurrent writers lock (``select_for_update``) to keep grades consistent.
    """

    course = models.OneToOneField(
        TreatmentCourse, models.CASCADE, primary_key=True, related_name="status_row"
    )
    latest_snapshot = models.ForeignKey(
        "monitoring.GradeSnapshot", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    crs_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    icans_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    needs_review = models.BooleanField(default=False)
    max_crs_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    max_icans_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    # When each check type was last done (current records only) or deferred until (a check
    # not done): schedule.due_checks computes due and overdue from these on read.
    last_vitals_at = models.DateTimeField(null=True, blank=True)
    last_neuro_at = models.DateTimeField(null=True, blank=True)
    last_labs_at = models.DateTimeField(null=True, blank=True)
    last_symptoms_at = models.DateTimeField(null=True, blank=True)
    deferrals = models.JSONField(default=dict, blank=True)  # {"vitals": iso datetime, ...}
    # ICE below 10 or CAPD above 0 on the latest assessment: protocols may tighten ICE checks.
    neuro_changed = models.BooleanField(default=False)
    # The earliest next due time of any check and the end of the monitoring window
    # (schedule.due_marks), refreshed by every write that changes them, so the flag board
    # finds a hospital's overdue courses with one indexed range query. Overdue is still
    # decided on read: next_due_at < now < monitoring_ends_at.
    next_due_at = models.DateTimeField(null=True, blank=True)
    monitoring_ends_at = models.DateTimeField(null=True, blank=True)
    # Step-up dosing (monitoring.dosing keeps these): a dosed course's checks are due only in
    # the monitoring window after a dose given; worklists show the window or the next dose.
    dosed = models.BooleanField(default=False)
    dose_window_start = models.DateTimeField(null=True, blank=True)
    dose_window_end = models.DateTimeField(null=True, blank=True)
    dose_window_label = models.CharField(max_length=100, blank=True)
    next_dose_at = models.DateTimeField(null=True, blank=True)
    next_dose_label = models.CharField(max_length=100, blank=True)
    open_flag_count = models.PositiveIntegerField(default=0)
    worst_open_severity = models.PositiveSmallIntegerField(default=0)
    # The flag board's order (monitoring.board): the course's leading unacknowledged flag and
    # its leading acknowledged one, each the most severe and then the longest waiting
    # (engine.flag_leads), kept by every write of its flags; blank when it has none. The board
    # sorts a hospital's courses on these columns, not on subqueries over every course's flags.
    open_lead_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    open_lead_since = models.DateTimeField(null=True, blank=True)
    acked_lead_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    acked_lead_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "course statuses"
        indexes = [
            # Flag board: overdue courses, longest waiting first.
            models.Index(fields=["next_due_at"], name="status_next_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Status of {self.course_id}: CRS {self.crs_grade} / ICANS {self.icans_grade}"
