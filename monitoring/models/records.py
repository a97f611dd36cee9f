"""What every amendable clinical record carries: its status, the record it corrects and why,
who typed it and when, and who retired it (amended or entered in error), when and why.

The bedside observations (``observations.Observation``, one per check) and the infection
records (``infection.InfectionRecord``, one per course) are both kept this way. They are never
edited in place: a correction is a new row that ``amends`` the old one, and a row made by
mistake is marked entered in error, with a reason. ``monitoring.services.amend`` and
``services.enter_in_error`` are the one write path for both.

The journey's rows (``journey.JourneyRecord``) share only ``CurrentRecord``: recording a phase,
baseline item or visit again supersedes the current row, but completing one (a blank filled)
needs no reason, and they have no "entered in error" (monitoring/journey.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class RecordStatus(models.TextChoices):
    # FHIR Observation.status speaks the same language (final / amended / entered-in-error).
    CURRENT = "current", _("Current")
    AMENDED = "amended", _("Superseded by a correction")
    ENTERED_IN_ERROR = "entered_in_error", _("Entered in error")


class RecordQuerySet(models.QuerySet):
    def current(self):
        """Records that count: not superseded by a correction, not entered in error."""
        return self.filter(status=RecordStatus.CURRENT)


class CurrentRecord(models.Model):
    """A record that a correction may supersede: only ``current`` ones count."""

    status = models.CharField(
        max_length=16, choices=RecordStatus.choices, default=RecordStatus.CURRENT
    )

    objects = RecordQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_current(self) -> bool:
        return self.status == RecordStatus.CURRENT


class AmendableRecord(CurrentRecord):
    """The bookkeeping of an amendable record; a subclass adds what the record belongs to (a
    check, a course) and its clinical values."""

    amends = models.OneToOneField(
        "self", models.PROTECT, null=True, blank=True, related_name="amended_by"
    )
    amendment_reason = models.CharField(max_length=500, blank=True)
    # Who typed this record and when (a correction's author may differ from the original's).
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    status_reason = models.CharField(max_length=500, blank=True)
    history = HistoricalRecords(inherit=True)

    # Bookkeeping, not clinical content: what a correction never copies from the record it
    # corrects, nor compares with it. What the record belongs to (its check, its course) is
    # copied: a correction belongs to the same.
    BOOKKEEPING_FIELDS = frozenset(
        {
            "id",
            "status",
            "amends",
            "amendment_reason",
            "recorded_at",
            "recorded_by",
            "status_changed_at",
            "status_changed_by",
            "status_reason",
        }
    )

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(amends__isnull=True) | ~Q(amendment_reason=""),
                name="%(class)s_amendment_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="entered_in_error") | ~Q(status_reason=""),
                name="%(class)s_error_has_reason",
            ),
        ]

    def audit_label(self) -> str:
        """How the audit log names this record (read inside ``services._in_english``)."""
        return str(self._meta.verbose_name).capitalize()

    def correction(self, values: dict, *, reason: str, by):
        """The (unsaved) record that corrects this one: its clinical values with ``values``
        over them, belonging to the same check or course, typed by ``by`` because of
        ``reason``."""
        kept = {
            f.name: getattr(self, f.name)
            for f in self._meta.concrete_fields
            if f.name not in self.BOOKKEEPING_FIELDS
        }
        return type(self)(
            **{**kept, **values}, amends=self, amendment_reason=reason, recorded_by=by
        )
