"""The on-call rota (views/rota.py): put someone on call for a tier of a unit's ladder.

What the rota refuses is ``services.check_on_call_shift``'s to say: the form runs the same check,
so each message sits on its field before anything is saved, and the service refuses the same
values from anywhere else (the Django admin shows the rota read-only).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring import services
from monitoring.forms.courses import moment_field
from monitoring.models import Unit, User
from monitoring.models.alerts import TIER_CHOICES


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        units = ", ".join(unit.name for unit in user.units.all())
        return f"{user.get_full_name() or user.username} — {user.get_role_display()} ({units})"


class ShiftForm(forms.Form):
    unit = forms.ModelChoiceField(Unit.objects.none(), label=_("Unit"), empty_label=None)
    tier = forms.ChoiceField(label=_("Tier"), choices=TIER_CHOICES)
    user = PersonChoiceField(
        User.objects.none(),
        label=_("Who"),
        help_text=_("Active staff of the unit (the unit is shown after the name)."),
    )
    starts_at = moment_field(
        _("Starts"), _("Now by default; at most an hour ago and at most 30 days ahead.")
    )
    ends_at = moment_field(
        _("Ends"), _("Blank: on call until someone ends the shift. At most 7 days.")
    )

    def __init__(self, *args, by, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.by = by
        self.fields["unit"].queryset = units
        self.fields["user"].queryset = (
            User.objects.filter(is_active=True, units__in=units)
            .exclude(role=User.Role.DISPLAY)
            .distinct()
            .order_by("last_name", "first_name", "username")
            .prefetch_related("units")
        )
        self.fields["ends_at"].required = False
        self.fields["starts_at"].initial = timezone.localtime().replace(second=0, microsecond=0)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            services.check_on_call_shift(**self.values(), by=self.by)
        except ValidationError as error:
            self.add_error(None, error)  # keyed by the field's name
        return cleaned

    def values(self) -> dict:
        return {
            name: self.cleaned_data.get(name)
            for name in ("unit", "tier", "user", "starts_at", "ends_at")
        }
