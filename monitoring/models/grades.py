"""Grades of a course's moments, clinicians' confirmations, and flags."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from monitoring import flag_rules
from monitoring.models.constraints import range_constraint
from monitoring.models.courses import BedsideCheck, TreatmentCourse
from monitoring.models.labels import choice_label
from monitoring.reasons import news2_missing, news2_risk, render_all


class GradeSnapshot(models.Model):
    """The ASTCT grades of a course at one check's moment, with the inputs that produced them.

    Recomputed when a late entry changes the state it was graded on; never because a rule or a
    protocol changed later (``rule_version`` says which rules produced it).
    """

    check_entry = models.OneToOneField(BedsideCheck, models.PROTECT, related_name="snapshot")
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="snapshots")
    observed_at = models.DateTimeField()
    # NULL: nothing to grade yet (no vital signs / no neuro assessment so far in the course).
    crs_grade = models.PositiveSmallIntegerField("CRS grade", null=True, blank=True)
    crs_reasons = models.JSONField(default=list)
    crs_needs_review = models.BooleanField(default=False)
    icans_grade = models.PositiveSmallIntegerField("ICANS grade", null=True, blank=True)
    icans_reasons = models.JSONField(default=list)
    icans_needs_review = models.BooleanField(default=False)
    review_reasons = models.JSONField(default=list)
    # A clinician's confirmed grade, when one was given (latest GradeConfirmation). Summaries
    # and exports use the confirmed grade; the computed one stays visible beside it.
    crs_confirmed_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    icans_confirmed_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    news2_total = models.PositiveSmallIntegerField("NEWS2", null=True, blank=True)
    news2_risk = models.CharField(max_length=16, blank=True)
    # The NEWS2 parameters not recorded at this check (grading.news2's names). A score with any
    # missing is only a lower bound and has no risk band of its own (RCP 2017 scores a full set).
    news2_missing = models.JSONField(default=list, blank=True)
    inputs = models.JSONField(default=dict)
    rule_version = models.CharField(max_length=32)
    computed_at = models.DateTimeField(default=timezone.now)
    # A confirmation carried from an earlier moment that rests on the same findings:
    # {"crs": {"from": iso time, "grade": 1}} (engine.carry_confirmations).
    confirmation_carried = models.JSONField(default=dict, blank=True)
    # Set when a late entry or a correction changed this moment's grade after it was shown;
    # every earlier version stays in the history table (simple-history) with the reason.
    revised_at = models.DateTimeField(null=True, blank=True)
    revision_note = models.CharField(max_length=500, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            range_constraint("snapshot", "crs_grade", 0, 4),
            range_constraint("snapshot", "icans_grade", 0, 4),
        ]
        indexes = [
            # Regrade path: a course's snapshots after a late entry's time.
            models.Index(fields=["course", "observed_at"], name="snapshot_course_time_idx"),
        ]

    def __str__(self) -> str:
        return f"CRS {self.crs_grade} / ICANS {self.icans_grade} at {self.observed_at:%Y-%m-%d}"

    @property
    def needs_review(self) -> bool:
        """A criterion left the grade open and no clinician has confirmed it yet."""
        return (self.crs_needs_review and self.crs_confirmed_grade is None) or (
            self.icans_needs_review and self.icans_confirmed_grade is None
        )

    @property
    def crs_reasons_text(self) -> list[str]:
        """The CRS reasons as text in the reader's language (monitoring/reasons.py)."""
        return render_all(self.crs_reasons)

    @property
    def icans_reasons_text(self) -> list[str]:
        return render_all(self.icans_reasons)

    @property
    def review_reasons_text(self) -> list[str]:
        return render_all(self.review_reasons)

    @property
    def news2_risk_text(self) -> str:
        """The NEWS2 risk band ("low", "high"…) in the reader's language."""
        return news2_risk(self.news2_risk)

    @property
    def news2_missing_text(self) -> list[str]:
        """The NEWS2 parameters this check did not record, in the reader's language."""
        return news2_missing(self.news2_missing)

    @property
    def open_review_reasons(self) -> list[str]:
        """The review calls of this moment while no clinician has answered them, as text in
        the reader's language."""
        return render_all(self.review_reasons) if self.needs_review else []

    @staticmethod
    def effective_grade(computed: int | None, confirmed: int | None) -> int | None:
        """The grade summaries use: the confirmed one if a clinician gave it (also for a
        snapshot's grades read as plain values)."""
        return computed if confirmed is None else confirmed

    @property
    def crs_effective(self) -> int | None:
        return self.effective_grade(self.crs_grade, self.crs_confirmed_grade)

    @property
    def icans_effective(self) -> int | None:
        return self.effective_grade(self.icans_grade, self.icans_confirmed_grade)

    @property
    def alert_severity(self) -> int | None:
        """How loudly the nurse is told what to do: the flag severity of the worse effective
        grade (flag_rules), the same grades the escalation advice is chosen from; None when
        neither domain is above 0."""
        severities = [
            table[grade]
            for table, grade in (
                (flag_rules.CRS_SEVERITY, self.crs_effective),
                (flag_rules.ICANS_SEVERITY, self.icans_effective),
            )
            if grade
        ]
        return max(severities, default=None)


class GradeConfirmation(models.Model):
    """A clinician confirms or overrides a computed grade, with a reason. Append-only."""

    class Domain(models.TextChoices):
        CRS = "crs", "CRS"
        ICANS = "icans", "ICANS"

    snapshot = models.ForeignKey(GradeSnapshot, models.PROTECT, related_name="confirmations")
    domain = models.CharField(max_length=8, choices=Domain.choices)
    computed_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    confirmed_grade = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=500)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-confirmed_at"]
        constraints = [
            range_constraint("confirmation", "confirmed_grade", 0, 4),
            models.CheckConstraint(condition=~Q(reason=""), name="confirmation_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_domain_display()} {self.computed_grade} → {self.confirmed_grade}"

    @property
    def is_override(self) -> bool:
        return self.confirmed_grade != self.computed_grade


class FlagQuerySet(models.QuerySet):
    def unresolved(self):
        return self.exclude(status=Flag.Status.RESOLVED)


class Flag(models.Model):
    """Something a clinician should look at; open → acknowledged → resolved, never deleted."""

    class Kind(models.TextChoices):
        CRS = "crs", "CRS"
        ICANS = "icans", "ICANS"
        CRS_SYMPTOM = "crs_symptom", _("CRS symptom")
        NEURO_SYMPTOM = "neuro_symptom", _("Neurological symptom")
        VITAL_SIGN = "vital_sign", _("Vital sign outside thresholds")
        MARKER = "marker", _("Inflammatory marker")
        NEWS2 = "news2", "NEWS2"
        NEEDS_REVIEW = "needs_review", _("Grade needs clinician review")
        # Deterioration, whatever the ASTCT grade (flag_rules.deterioration_flags).
        OXYGEN_NEED = "oxygen_need", _("New or escalating oxygen need")
        HYPOTENSION = "hypotension", _("New hypotension")
        VASOPRESSOR = "vasopressor", _("Vasopressor started or added")
        NEURO_DECLINE = "neuro_decline", _("Fall in ICE/CAPD")
        SEIZURE = "seizure", _("Seizure")
        # Infection prevention (flag_rules.infection_flags, neutropenic_fever_flags).
        NEUTROPENIC_FEVER = "neutro_fever", _("Neutropenic fever")
        PROPHYLAXIS = "prophylaxis", _("Prophylaxis due or lapsed")
        IGG_LOW = "igg_low", _("Immunoglobulin replacement not planned")
        # A caregiver or patient at home reported confusion or difficulty speaking, or the
        # guided screen found a wrong answer (home_rules.home_neuro_flag): for the team's
        # review, never graded as ICANS (no ICE score is taken at home).
        HOME_CONFUSION = "home_confusion", _("Confusion reported at home")
        # Home monitoring (issue 15 §2; home_sweep.sweep): no check-in by the grace's end.
        HOME_MISSED = "home_missed", _("Home check-in missed")
        # A new handwriting sample for people to compare with the baseline (handwriting.py).
        HANDWRITING = "handwriting", _("Handwriting sample to review")

    class Severity(models.IntegerChoices):
        # Integers so that "most severe first" is a plain ORDER BY.
        INFO = 1, _("Info")
        WARNING = 2, _("Warning")
        URGENT = 3, _("Urgent")
        CRITICAL = 4, _("Critical")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("flag status", "Open")
        ACKNOWLEDGED = "acknowledged", pgettext_lazy("flag status", "Acknowledged")
        RESOLVED = "resolved", pgettext_lazy("flag status", "Resolved")

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="flags")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    message = models.CharField(max_length=500)
    # The message as a code and parameters (flag_rules.FlagSpec.data), shown in the reader's
    # language by display_message; ``message`` stays the English that de-duplicates and goes
    # out in notifications. Null for kinds without a code and for rows raised before it.
    message_data = models.JSONField(null=True, blank=True)
    snapshot = models.ForeignKey(
        GradeSnapshot, models.PROTECT, null=True, blank=True, related_name="flags"
    )
    raised_at = models.DateTimeField(default=timezone.now)
    raised_message = models.CharField("raised as", max_length=500, blank=True)
    # When the condition last got worse (a higher severity): the wait counts from here.
    worsened_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledge_note = models.CharField(max_length=500, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolve_reason = models.CharField(max_length=500, blank=True)
    # The escalation ladder (monitoring.escalation): it (re)starts when the flag is raised or
    # gets worse (a new round), climbs one tier per step while nobody acknowledges, and stops
    # when someone does (``escalate_at`` blank).
    ladder_round = models.PositiveIntegerField(default=0)
    ladder_step = models.PositiveSmallIntegerField(default=0)
    ladder_tier = models.CharField("tier reached", max_length=16, blank=True)
    escalate_at = models.DateTimeField("next escalation at", null=True, blank=True)

    history = HistoricalRecords()

    objects = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["-severity", "raised_at"]
        constraints = [
            # The same condition updates its open flag rather than raising a duplicate.
            models.UniqueConstraint(
                fields=["course", "kind"],
                condition=~Q(status="resolved"),
                name="one_unresolved_flag_per_kind",
            ),
        ]
        indexes = [
            # Flag board and worklist counts: unresolved flags of a course, by severity.
            models.Index(fields=["course", "status", "severity"], name="flag_course_status_idx"),
            # The workers' sweep: open flags whose next escalation is due.
            models.Index(fields=["escalate_at"], name="flag_escalate_at_idx"),
        ]

    def __str__(self) -> str:
        return f"[{self.get_severity_display()}] {self.message}"

    # Boards and sheets show both on every flag: translated once per language (labels.py).
    def get_kind_display(self) -> str:
        return choice_label(self.Kind, self.kind)

    def get_severity_display(self) -> str:
        return choice_label(self.Severity, self.severity)

    @property
    def display_message(self) -> str:
        """The message in the reader's language where it has a code; else as stored."""
        from monitoring.flag_messages import render

        return render(self.message_data) if self.message_data else self.message

    @property
    def waiting_since(self):
        """Raised, or last got worse: how long it has waited for someone counts from here."""
        return self.worsened_at or self.raised_at

    @property
    def stands_out(self) -> bool:
        """Open and urgent or worse: the flag board and the course page make it stand out."""
        return self.status == self.Status.OPEN and self.severity >= self.Severity.URGENT


class FlagAcknowledgement(models.Model):
    """One acknowledgement of a flag: who, when and their note. Append-only: an escalation
    re-opens an acknowledged flag, and acknowledging it again adds a row, so every earlier
    acknowledgement stays on record (``services.acknowledge_flag`` writes them)."""

    flag = models.ForeignKey(Flag, models.PROTECT, related_name="acknowledgements")
    acknowledged_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    # What the flag said when it was acknowledged: it may have escalated since.
    severity = models.PositiveSmallIntegerField(choices=Flag.Severity.choices)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["acknowledged_at", "pk"]

    def __str__(self) -> str:
        return f"Acknowledged {self.acknowledged_at:%Y-%m-%d %H:%M}: {self.message}"
