"""The quality page's filters (views/quality.py): a period of local dates; the unit is checked by
the view (``access.selected_unit``)."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError

from monitoring.quality import MAX_WEEKS, Period

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class QualityForm(forms.Form):
    start = _date_field("From")
    end = _date_field("To")

    def clean(self):
        cleaned = super().clean()
        for name in ("start", "end"):
            day = cleaned.get(name)
            if day and not EARLIEST <= day <= LATEST:
                self.add_error(name, f"Give a date between {EARLIEST} and {LATEST}.")
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                raise ValidationError("The start date must not be after the end date.")
            if (end - start).days + 1 > MAX_WEEKS * 7:
                raise ValidationError(
                    f"At most {MAX_WEEKS} weeks at once (asked for {(end - start).days + 1} days)."
                )
        return cleaned

    def period(self, today: date) -> Period:
        """The dates asked for; a blank end is today, a blank start 12 weeks before the end."""
        end = self.cleaned_data.get("end") or max(today, self.cleaned_data.get("start") or today)
        start = self.cleaned_data.get("start") or Period.default(end).start
        if (end - start).days + 1 > MAX_WEEKS * 7:  # only one date given, far from today
            end = start + timedelta(days=MAX_WEEKS * 7 - 1)
        return Period(start, end)
