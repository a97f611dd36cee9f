"""The handwriting sample forms: a drawing from the pad (a PNG data URL in a hidden field,
static/js/handwriting.js) or a photo of paper. Whether the picture can be read is
monitoring/handwriting.py's to say; these only say which of the two arrived."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring import handwriting
from monitoring.forms.common import ObservationTimeForm
from monitoring.models import HandwritingSample


class HandwritingForm(forms.Form):
    # The drawing pad's picture; a data URL of a few tens of kB (handwriting.decode_drawing).
    drawing = forms.CharField(required=False, widget=forms.HiddenInput)
    photo = forms.FileField(
        label=_("Or take a photo of the sentence written on paper"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
        help_text=_("PNG or JPEG, at most 5 MB."),
    )

    def clean(self):
        cleaned = super().clean()
        drawing, photo = cleaned.get("drawing"), cleaned.get("photo")
        if photo:
            if photo.size > handwriting.MAX_UPLOAD_BYTES:
                raise ValidationError({"photo": handwriting.too_big_text()})
            cleaned["image"] = photo.read()
            cleaned["source"] = HandwritingSample.Source.PHOTO
        elif drawing:
            try:
                cleaned["image"] = handwriting.decode_drawing(drawing)
            except ValidationError as error:
                raise ValidationError({"drawing": error.messages}) from error
            cleaned["source"] = HandwritingSample.Source.DRAWN
        else:
            raise ValidationError(
                gettext("Write the sentence on the pad, or take a photo of it written on paper.")
            )
        return cleaned


class StaffHandwritingForm(HandwritingForm):
    """Staff: a baseline sample, or one written on the ward or in clinic, at a time they set."""

    kind = forms.ChoiceField(
        label=_("Sample"),
        choices=[
            (HandwritingSample.Kind.BASELINE.value, HandwritingSample.Kind.BASELINE.label),
            (HandwritingSample.Kind.WARD.value, HandwritingSample.Kind.WARD.label),
        ],
        widget=forms.RadioSelect,
    )
    taken_at = forms.DateTimeField(
        label=_("Written at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    field_order = ["kind", "taken_at", "drawing", "photo"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["taken_at"].initial = ObservationTimeForm.default_time()
