"""The demo's handwriting samples (issue 15 §2): the outpatient demo course's baseline, written
the day before day 0, and one sample its caregiver sent from home, a little shakier. Pictures
are drawn with Pillow's bundled font and saved through the real write path."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFont

from monitoring import handwriting
from monitoring.models import HandwritingSample, TreatmentCourse, User

TEXT = "Our national bird is the bald eagle."


def demo_png(text: str = TEXT, *, shake: float = 0.0, seed: int = 15) -> bytes:
    """A line of writing, black on transparent as the drawing pad sends it; ``shake`` (in px)
    moves each letter up and down at random, as a tremor would."""
    font = ImageFont.load_default(size=40)
    image = Image.new("RGBA", (900, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    wobble = random.Random(seed)  # noqa: S311 - a picture, not a secret
    x = 30.0
    for letter in text:
        y = 55 + (wobble.uniform(-shake, shake) if shake else 0)
        draw.text((x, y), letter, font=font, fill=(0, 0, 0, 255))
        x += draw.textlength(letter, font=font) + (wobble.uniform(0, shake / 3) if shake else 0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def add_demo_samples(course: TreatmentCourse, *, staff: User, home_user: User, now: datetime):
    """The course's baseline (by staff) and one home sample (by the home user), once."""
    if HandwritingSample.objects.filter(course=course).exists():
        return
    handwriting.record_sample(
        course=course,
        kind=HandwritingSample.Kind.BASELINE,
        source=HandwritingSample.Source.DRAWN,
        image=demo_png(),
        taken_at=course.infused_at - timedelta(days=1),
        by=staff,
    )
    handwriting.record_sample(
        course=course,
        kind=HandwritingSample.Kind.HOME,
        source=HandwritingSample.Source.DRAWN,
        image=demo_png(shake=4),
        taken_at=max(now - timedelta(hours=2), course.infused_at),
        by=home_user,
    )
