"""Handwriting samples (issue 15 §2, issue 14 §1): the ICE writing task's standard sentence,
written at baseline and again at home, on the ward or in clinic, and kept so that the team can
compare them side by side. People compare them; nothing grades them (docs/clinical-rules.md).

The picture is stored in the database as a normalised PNG (monitoring/handwriting.py decodes,
strips metadata and downscales it), so the one access check of the views that serve it is the
only way to see it: no file under a public media URL. A sample is never overwritten or deleted:
one entered by mistake is marked entered in error, with who, when and why, and stays on file.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring.models.courses import TreatmentCourse
from monitoring.models.records import CurrentRecord


class HandwritingKind(models.TextChoices):
    BASELINE = "baseline", _("Baseline")
    HOME = "home", _("Home")
    WARD = "ward", _("Ward or clinic")


class HandwritingSource(models.TextChoices):
    DRAWN = "drawn", _("Written on the screen")
    PHOTO = "photo", _("Photo of paper")


class HandwritingSample(CurrentRecord):
    """One written sentence, as a picture, for one course."""

    Kind = HandwritingKind
    Source = HandwritingSource

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="handwriting_samples")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    source = models.CharField(_("how"), max_length=8, choices=Source.choices)
    taken_at = models.DateTimeField(_("written at"), help_text=_("When it was written"))
    # The sentence as it was shown, in the language it was shown in (HANDWRITING_SENTENCE).
    sentence = models.CharField(_("sentence asked"), max_length=200)
    image_png = models.BinaryField(editable=False)
    width_px = models.PositiveIntegerField(editable=False)
    height_px = models.PositiveIntegerField(editable=False)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    status_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-taken_at", "-pk"]
        verbose_name = _("handwriting sample")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=HandwritingKind.values), name="handwriting_kind_known"
            ),
            models.CheckConstraint(
                condition=Q(source__in=HandwritingSource.values),
                name="handwriting_source_known",
            ),
            # services.enter_in_error: an error mark always says why.
            models.CheckConstraint(
                condition=~Q(status="entered_in_error") | ~Q(status_reason=""),
                name="handwriting_error_has_reason",
            ),
        ]
        indexes = [
            # The course page's Handwriting section: a course's samples of a kind, newest first.
            models.Index(fields=["course", "kind", "taken_at"], name="handwriting_course_idx"),
        ]

    def __str__(self) -> str:
        return f"Handwriting ({self.get_kind_display()}) {self.taken_at:%Y-%m-%d %H:%M}"

    def audit_label(self) -> str:
        """How the audit log names this sample (services.enter_in_error)."""
        return f"Handwriting sample ({self.kind}) of {self.taken_at:%Y-%m-%d %H:%M}"
