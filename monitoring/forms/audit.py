"""The audit log filter."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring.models import (
    AuditEvent,
    User,
)


class _UserChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        # A key that is not a plain small number is no user (and would overflow the database).
        if value not in self.empty_values and not re.fullmatch(r"[0-9]{1,18}", str(value)):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


AUDIT_DATES = (date(2000, 1, 1), date(2100, 12, 31))


class AuditLogFilterForm(forms.Form):
    user = _UserChoiceField(
        User.objects.order_by("username"), required=False, empty_label=_("Anyone")
    )
    mrn = forms.CharField(label=_("Patient MRN"), max_length=32, required=False)
    action = forms.ChoiceField(
        label=_("Action"),
        choices=[("", _("Any action")), *AuditEvent.Action.choices],
        required=False,
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To (inclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        low, high = AUDIT_DATES
        for name in ("date_from", "date_to"):
            if data.get(name) and not low <= data[name] <= high:
                self.add_error(
                    name,
                    gettext("Give a date between %(low)s and %(high)s.")
                    % {"low": f"{low:%Y-%m-%d}", "high": f"{high:%Y-%m-%d}"},
                )
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", gettext("The end date must be on or after the start date."))
        return data

    def filter(self, events):
        data = self.cleaned_data
        if data.get("user"):
            events = events.filter(user=data["user"])
        if data.get("mrn", "").strip():
            events = events.filter(patient__mrn__icontains=data["mrn"].strip())
        if data.get("action"):
            events = events.filter(action=data["action"])
        zone = timezone.get_current_timezone()
        if data.get("date_from"):
            events = events.filter(at__gte=datetime.combine(data["date_from"], time.min, zone))
        if data.get("date_to"):
            end = data["date_to"] + timedelta(days=1)
            events = events.filter(at__lt=datetime.combine(end, time.min, zone))
        return events


# ---------------------------------------------------------------------------------------------
# Care team: flag actions, grade confirmation, treatments given (views/care_team.py)
# ---------------------------------------------------------------------------------------------
