"""Handwriting samples (issue 15 §2, issue 14 §1): the one write path, the picture's rules, and
what the course page shows.

The task is the ICE score's writing item: "write a standard sentence" (ASTCT; reference §2.1,
whose example sentence this is). Handwriting deterioration is an early sign of ICANS, and
handwriting is followed for BCMA-related movement and neurocognitive toxicity (reference §4.5).
Samples are compared by people, side by side with the baseline; nothing here grades them. A new
home, ward or clinic sample raises a flag for the team to look (flag_rules.handwriting_flag),
escalating like any other flag until someone acknowledges it.

A picture, drawn on the screen or photographed, is decoded with Pillow, turned upright, its
metadata (EXIF: camera, place, time) dropped, flattened on white in greys, scaled down to at most
MAX_SIDE_PX and stored as PNG in the database: the bytes a phone sent are never kept.
"""

from __future__ import annotations

import base64
import binascii
import io
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from monitoring import flag_rules
from monitoring.engine import FlagBook
from monitoring.models import AuditEvent, Flag, HandwritingSample, TreatmentCourse
from monitoring.services import (
    _in_english,
    _lock_status,
    _name,
    audit,
    enter_in_error,
    moment_label,
    refresh_status,
    save_flag_book,
)

# The ICE writing task's standard sentence (reference §2.1 gives this one as its example),
# shown in the person's language; the sample keeps the words it was shown.
SENTENCE = _("Our national bird is the bald eagle.")

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a phone photo as JPEG is 2-4 MB
MAX_SIDE_PX = 1200  # enough to see a tremor in the strokes; a few hundred kB as PNG at most
# A picture larger than this is refused before it is decoded (a "decompression bomb" is a few
# kB that decode to gigabytes); a 48-megapixel phone camera is under it.
MAX_PIXELS = 50_000_000
MIN_SIDE_PX = 50  # smaller cannot show a written sentence
CLOCK_SKEW = timedelta(minutes=5)
# The formats accepted as they arrive. HEIC (iPhone photos) only where a HEIF plugin for
# Pillow is installed; browsers usually send iPhone photos as JPEG anyway.
FORMATS = {"PNG", "JPEG", "HEIF"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_DATA_URL = "data:image/png;base64,"


def heif_supported() -> bool:
    return "HEIF" in Image.OPEN


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def too_big_text() -> str:
    return gettext("The picture is too large: at most %(mb)s MB. Take it again smaller.") % {
        "mb": MAX_UPLOAD_BYTES // (1024 * 1024)
    }


def decode_drawing(value: str) -> bytes:
    """The bytes of the drawing pad's picture (a PNG data URL, static/js/handwriting.js)."""
    if not value.startswith(_DATA_URL):
        raise ValidationError(gettext("The drawing did not arrive as a picture. Write it again."))
    encoded = value[len(_DATA_URL) :]
    if len(encoded) > (MAX_UPLOAD_BYTES * 4) // 3 + 4:
        raise ValidationError(too_big_text())
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValidationError(
            gettext("The drawing did not arrive as a picture. Write it again.")
        ) from error


def normalise_png(data: bytes) -> tuple[bytes, int, int]:
    """A PNG, JPEG (or HEIC where supported) as a clean PNG: upright, greys on white, no
    metadata, at most MAX_SIDE_PX on its longer side. Returns (png, width, height); refuses with
    a message a person can act on."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(too_big_text())
    if _is_heif(data) and not heif_supported():
        raise ValidationError(
            gettext(
                "This is an HEIC photo, which cannot be read here. Send it as JPEG: on an "
                "iPhone, Settings › Camera › Formats › Most Compatible, or take a screenshot "
                "of the photo."
            )
        )
    not_a_picture = gettext("This file is not a picture we can read. Send a PNG or JPEG photo.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise ValidationError(not_a_picture)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValidationError(too_big_text())
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValidationError(not_a_picture) from error
    if min(upright.size) < MIN_SIDE_PX:
        raise ValidationError(
            gettext("The picture is too small to show the writing. Take it again closer.")
        )
    # Transparent parts (the drawing pad's background) become white paper.
    rgba = upright.convert("RGBA")
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    paper.alpha_composite(rgba)
    grey = paper.convert("L")
    grey.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX), Image.Resampling.LANCZOS)
    # A new image carries no info (EXIF, ICC profile, text chunks) from the one that arrived.
    clean = Image.new("L", grey.size, 255)
    clean.paste(grey)
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue(), clean.width, clean.height


def _check_time(course: TreatmentCourse, kind: str, taken_at: datetime) -> None:
    if timezone.is_naive(taken_at):
        raise ValidationError({"taken_at": gettext("The time must carry a time zone.")})
    if taken_at > timezone.now() + CLOCK_SKEW:
        raise ValidationError({"taken_at": gettext("The time cannot be in the future.")})
    if kind != HandwritingSample.Kind.BASELINE and taken_at < course.infused_at:
        raise ValidationError(
            {
                "taken_at": gettext(
                    "A sample written before the infusion (day 0) is a baseline sample."
                )
            }
        )


def _check_who(course: TreatmentCourse, kind: str, by) -> None:
    """A patient or caregiver writes home samples of their own course; staff baseline, ward or
    clinic ones (the views check the course; this is the rule they rest on)."""
    if by.can_use_home:
        if kind != HandwritingSample.Kind.HOME:
            raise ValidationError(gettext("Samples sent from home are home samples."))
    elif kind == HandwritingSample.Kind.HOME:
        raise ValidationError(gettext("A home sample is sent by the patient or a caregiver."))
    if not open_for_samples(course):
        raise ValidationError(
            gettext("Monitoring of this course has ended: nothing new can be recorded on it.")
        )


@transaction.atomic
def record_sample(
    *,
    course: TreatmentCourse,
    kind: str,
    source: str,
    image: bytes,
    taken_at: datetime,
    by,
) -> HandwritingSample:
    """Save one handwriting sample as a normalised PNG, audited; a home, ward or clinic one
    raises the review flag."""
    _check_who(course, kind, by)
    _check_time(course, kind, taken_at)
    png, width, height = normalise_png(image)
    status = _lock_status(course)
    sample = HandwritingSample(
        course=course,
        kind=kind,
        source=source,
        taken_at=taken_at,
        sentence=str(SENTENCE),
        image_png=png,
        width_px=width,
        height_px=height,
        recorded_by=by,
    )
    sample.full_clean(exclude=["course", "recorded_by"])
    sample.save()
    written_at = moment_label(course)(taken_at)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.HANDWRITING_RECORDED,
            course=course,
            summary=(
                f"Handwriting sample ({sample.get_kind_display().lower()}, "
                f"{sample.get_source_display().lower()}) written at {written_at}, "
                f"recorded by {_name(by)}"
            ),
            details={
                "sample": str(sample.public_id),
                "kind": kind,
                "source": source,
                "taken_at": taken_at.isoformat(),
                "png_bytes": len(png),
                "width_px": width,
                "height_px": height,
                "received_bytes": len(image),
            },
        )
    if kind != HandwritingSample.Kind.BASELINE:
        book = FlagBook(course, Flag.objects.unresolved().filter(course=course))
        spec = flag_rules.handwriting_flag(kind=kind, written_at=written_at)
        book.raise_flag(spec, snapshot=None, now=timezone.now())
        save_flag_book(book)
        refresh_status(status)
    return sample


@transaction.atomic
def mark_entered_in_error(*, sample: HandwritingSample, reason: str, by) -> HandwritingSample:
    """A sample made by mistake (wrong patient, a blank page) stays on file, marked entered in
    error with who, when and why; the course page no longer compares it."""
    return enter_in_error(record=sample, reason=reason, by=by, course=sample.course)


def open_for_samples(course: TreatmentCourse) -> bool:
    """Samples are recorded from registration (a baseline) until monitoring ends."""
    return course.is_under_monitoring or course.is_planned


def section(course: TreatmentCourse, *, latest: int = 3) -> dict:
    """The course page's Handwriting section: the baseline (the newest current one) beside the
    ``latest`` newest other current samples, without their pictures (two queries)."""
    rows = (
        HandwritingSample.objects.current()
        .filter(course=course)
        .defer("image_png")
        .select_related("recorded_by")
        .order_by("-taken_at", "-pk")
    )
    baseline = rows.filter(kind=HandwritingSample.Kind.BASELINE).first()
    others = list(rows.exclude(kind=HandwritingSample.Kind.BASELINE)[:latest])
    samples = [baseline, *others] if baseline else others
    label = moment_label(course)
    for sample in samples:
        sample.moment = label(sample.taken_at)
    return {
        "baseline": baseline,
        "latest": others,
        "samples": samples,
        "can_add": open_for_samples(course),
    }
