"""Checks not done, and the audit log of every clinical action and export."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from monitoring.models.courses import TreatmentCourse
from monitoring.models.people import Patient
from monitoring.models.protocols import CheckType


class CheckNotDone(models.Model):
    """A due check that could not be done, and why; it reschedules the next due time."""

    class Reason(models.TextChoices):
        OFF_UNIT = "off_unit", _("Off the unit (imaging, procedure)")
        REFUSED = "refused", _("Patient refused")
        ASLEEP = "asleep_per_order", _("Asleep, not to be woken per physician order")
        OTHER = "other", _("Other")

    # Minutes until the check is due again: try again soon when the patient is away or
    # refused; a physician's order to let the patient sleep defers a full interval (None).
    RETRY_MINUTES = {"off_unit": 60, "refused": 60, "asleep_per_order": None, "other": 60}

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="checks_not_done")
    check_type = models.CharField(max_length=16, choices=CheckType.choices)
    observed_at = models.DateTimeField("when", help_text="When the check was attempted")
    reason = models.CharField(max_length=24, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-observed_at"]
        verbose_name_plural = "checks not done"
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason="other") | ~Q(note=""), name="not_done_other_explained"
            ),
        ]
        indexes = [models.Index(fields=["course", "observed_at"], name="notdone_course_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_check_type_display()} not done: {self.get_reason_display()}"


class HandoverNote(models.Model):
    """The nurse's free-text "watch for" note for the next shift. Append-only: the newest is
    shown on the handover; older ones stay as the record of what was handed over."""

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="handover_notes")
    text = models.CharField("watch for", max_length=1000)
    written_at = models.DateTimeField(default=timezone.now, editable=False)
    written_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-written_at", "-pk"]
        indexes = [models.Index(fields=["course", "written_at"], name="handover_course_time_idx")]

    def __str__(self) -> str:
        return f"Watch for ({self.written_at:%Y-%m-%d %H:%M}): {self.text[:60]}"


class AuditEvent(models.Model):
    """Who did what to whom, and when: one row per clinical action, export or print."""

    class Action(models.TextChoices):
        CHECK_RECORDED = "check_recorded", _("Check recorded")
        CHECK_NOT_DONE = "check_not_done", _("Check not done")
        RECORD_AMENDED = "record_amended", _("Record amended")
        ENTERED_IN_ERROR = "entered_in_error", _("Record entered in error")
        GRADE_CONFIRMED = "grade_confirmed", _("Grade confirmed or overridden")
        GRADES_REVISED = "grades_revised", _("Grades revised after a late entry or correction")
        FLAG_ACKNOWLEDGED = "flag_acknowledged", _("Flag acknowledged")
        FLAG_RESOLVED = "flag_resolved", _("Flag resolved")
        TREATMENT_RECORDED = "treatment_recorded", _("Treatment recorded")
        PROTOCOL_CHANGED = "protocol_changed", _("Protocol changed")
        COURSE_PROTOCOL_MOVED = "course_protocol_moved", _("Course moved to a protocol version")
        COURSE_STARTED = "course_started", _("Course started")
        PATIENT_ADMITTED = "patient_admitted", _("Patient admitted")
        PATIENT_CORRECTED = "patient_corrected", _("Date of birth or weight corrected")
        INFUSION_CORRECTED = "infusion_corrected", _("Infusion time corrected")
        COURSE_TRANSFERRED = "course_transferred", _("Course transferred to another unit")
        CARE_SETTING_CHANGED = "care_setting_changed", _("Care setting changed")
        MONITORING_ENDED = "monitoring_ended", _("Monitoring ended")
        EXPORTED = "exported", _("Data exported")
        HANDOVER_PRINTED = "handover_printed", _("Handover printed")
        HANDOVER_NOTE = "handover_note", _("Handover note written")
        ADMIN_EDITED = "admin_edited", _("Edited in the admin site")
        FLAG_ESCALATED = "flag_escalated", _("Flag escalated (nobody acknowledged in time)")
        OVERDUE_ALERTED = "overdue_alerted", _("Overdue check reported to the nurse in charge")
        ROTA_CHANGED = "rota_changed", _("On-call rota changed")
        LANGUAGE_CHANGED = "language_changed", _("Language changed on the profile")
        DOSES_PLANNED = "doses_planned", _("Step-up doses planned")
        DOSE_REPLANNED = "dose_replanned", _("Dose re-planned")
        DOSE_HELD = "dose_held", _("Dose held")
        DOSE_GIVEN = "dose_given", _("Dose given")
        STEP_UP_RESTARTED = "step_up_restarted", _("Step-up restarted")
        INFECTION_CARE = "infection_care", _("Infection prevention recorded")
        # The treatment journey (monitoring/journey.py)
        COURSE_REGISTERED = "course_registered", _("Registered for therapy (planned course)")
        PHASE_RECORDED = "phase_recorded", _("Journey phase recorded")
        BASELINE_RECORDED = "baseline_recorded", _("Pre-infusion baseline recorded")
        MONITORING_STARTED = "monitoring_started", _("Monitoring started at the infusion")
        VISIT_RECORDED = "visit_recorded", _("Follow-up visit recorded")
        JOURNEY_ENDED = "journey_ended", _("Journey ended")
        PLANNED_DAY0_MOVED = "planned_day0_moved", _("Planned day 0 moved")
        VISIT_MISSED = "visit_missed", _("Follow-up visit missed")
        # Home monitoring (monitoring/home.py): access, sign-in and its failures
        HOME_INVITED = "home_invited", _("Invited to home monitoring")
        HOME_INVITATION_REVOKED = "home_invitation_revoked", _("Home invitation withdrawn")
        HOME_ACCESS_GRANTED = "home_access_granted", _("Home access granted (consent recorded)")
        HOME_ACCESS_REVOKED = "home_access_revoked", _("Home access revoked")
        HOME_CODE_ISSUED = "home_code_issued", _("Home sign-in code issued")
        HOME_SIGNED_IN = "home_signed_in", _("Signed in at home")
        HOME_SIGN_IN_FAILED = "home_sign_in_failed", _("Home sign-in failed")
        HOME_LOCKED_OUT = "home_locked_out", _("Home sign-in refused: too many attempts")
        HOME_CHECKIN_RECORDED = "home_checkin_recorded", _("Check-in recorded at home")
        # Home check-ins (monitoring/home_sweep.py): a reminder sent, a missed one flagged
        HOME_REMINDED = "home_reminded", _("Home check-in reminder sent")
        HOME_MISSED = "home_missed", _("Home check-in missed")

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    patient = models.ForeignKey(
        Patient, models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    course = models.ForeignKey(
        TreatmentCourse, models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The audit log page: newest first, filtered by user, patient or date.
            models.Index(fields=["at"], name="audit_at_idx"),
            models.Index(fields=["user", "at"], name="audit_user_at_idx"),
            models.Index(fields=["patient", "at"], name="audit_patient_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}: {self.summary}"

    @property
    def shown_summary(self) -> str:
        """The summary with field labels. Events written before the summaries used labels
        ("heart_rate_bpm 104 → 96") are shown labelled too, from the changes kept in
        ``details``; the stored row itself is never rewritten."""
        details = self.details if isinstance(self.details, dict) else {}
        changes = details.get("changes", details.get("changed"))
        model_name = details.get("model")
        if not isinstance(changes, dict) or not isinstance(model_name, str):
            return self.summary
        summary = self.summary
        for name, pair in changes.items():
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                continue
            old, new = pair
            for sep in (": ", "; "):  # the change lists follow a colon or another change
                summary = summary.replace(
                    f"{sep}{name} {old} → {new}",
                    f"{sep}{field_label(model_name, name)} {old} → {new}",
                    1,
                )
        return summary


def field_label(model_name: str, name: str) -> str:
    """ "heart_rate_bpm" of vital signs → "Heart rate (/min)": the field's verbose name; a
    model or field that no longer exists shows its name in words."""
    try:
        label = apps.get_model("monitoring", model_name)._meta.get_field(name).verbose_name
    except (LookupError, FieldDoesNotExist, AttributeError):
        label = name.replace("_", " ")
    return capfirst(str(label))


def changes_text(model_name: str, changes: dict) -> str:
    """ "Heart rate (/min) 104 → 96; SpO₂ (%) 91 → 94": what an amendment or edit changed."""
    return "; ".join(
        f"{field_label(model_name, name)} {old} → {new}" for name, (old, new) in changes.items()
    )
