"""The quality page's filters (views/quality.py): a period of local dates; the unit is checked by
the view (``access.selected_unit``)."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring.quality import MAX_WEEKS, Period

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _date_field(label) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class QualityForm(forms.Form):
    start = _date_field(_("From"))
    end = _date_field(_("To"))

    def clean(self):
        cleaned = super().clean()
        for name in ("start", "end"):
            day = cleaned.get(name)
            if day and not EARLIEST <= day <= LATEST:
                self.add_error(
                    name,
                    gettext("Give a date between %(low)s and %(high)s.")
                    % {"low": EARLIEST, "high": LATEST},
                )
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                raise ValidationError(gettext("The start date must not be after the end date."))
            if (end - start).days + 1 > MAX_WEEKS * 7:
                raise ValidationError(
                    gettext("At most %(weeks)s weeks at once (asked for %(days)s days).")
                    % {"weeks": MAX_WEEKS, "days": (end - start).days + 1}
                )
        return cleaned

    def period(self, today: date) -> Period:
        """The dates asked for; a blank end is today, a blank start 12 weeks before the end."""
        end = self.cleaned_data.get("end") or max(today, self.cleaned_data.get("start") or today)
        start = self.cleaned_data.get("start") or Period.default(end).start
        if (end - start).days + 1 > MAX_WEEKS * 7:  # only one date given, far from today
            end = start + timedelta(days=MAX_WEEKS * 7 - 1)
        return Period(start, end)
