"""The on-call rota: who holds each tier of a unit's escalation ladder now, and who comes next.

Everyone who sees patients reads it (a nurse looks up who to call); charge nurses edit their own
units' rota and admins every unit's, through ``services.add_on_call_shift`` and
``services.end_on_call_shift``. A shift is never deleted: it is ended, and the history stays.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from monitoring import services
from monitoring.access import requires, selected_unit, units_for, visible_units
from monitoring.forms.rota import ShiftForm
from monitoring.models import OnCallShift, User
from monitoring.models.alerts import TIER_CHOICES

UPCOMING = timedelta(hours=24)


def rota_rows(units, now) -> list[dict]:
    """Per unit, per tier of alert_rules.TIERS: the shifts held now and those starting within
    the next 24 h (one query)."""
    shifts = (
        OnCallShift.objects.filter(unit__in=units, starts_at__lt=now + UPCOMING)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("user")
        .order_by("starts_at", "pk")
    )
    held, coming = defaultdict(list), defaultdict(list)
    for shift in shifts:
        (held if shift.starts_at <= now else coming)[(shift.unit_id, shift.tier)].append(shift)
    return [
        {
            "unit": unit,
            "tiers": [
                {
                    "code": code,
                    "label": label,
                    "now": held[(unit.pk, code)],
                    "next": coming[(unit.pk, code)],
                    # An inactive account is never told (escalation.holders): not cover.
                    "covered": any(s.user.is_active for s in held[(unit.pk, code)]),
                }
                for code, label in TIER_CHOICES
            ],
        }
        for unit in units
    ]


def _rota_page(request, *, form=None, status=200):
    units = visible_units(request.user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    now = timezone.now()
    if form is None and request.user.can_edit_rota:
        form = ShiftForm(by=request.user, units=units_for(request.user), initial={"unit": unit})
    return render(
        request,
        "monitoring/rota/rota.html",
        {
            "rows": rota_rows([unit] if unit else units, now),
            "units": units,
            "selected_unit": unit,
            "form": form,
            "now": now,
            "upcoming_hours": int(UPCOMING.total_seconds() // 3600),
        },
        status=status,
    )


@requires(User.can_view_patients)
@require_GET
def rota(request):
    """On call now, per unit and tier, with the next 24 hours' shifts."""
    return _rota_page(request)


@requires(User.can_edit_rota)
@require_POST
def rota_add(request):
    """Put someone on call (values kept and each problem on its field when refused)."""
    form = ShiftForm(request.POST, by=request.user, units=units_for(request.user))
    if form.is_valid():
        try:
            shift = services.add_on_call_shift(**form.values(), by=request.user)
        except ValidationError as error:  # e.g. a clashing shift saved meanwhile
            form.add_error(None, error)
        else:
            messages.success(request, services.shift_text(shift) + ".")
            return redirect("monitoring:rota")
    return _rota_page(request, form=form, status=400)


@requires(User.can_edit_rota)
@require_POST
def rota_end(request, shift_id):
    """End a shift now; another unit's shift is a 404, like one that does not exist."""
    shift = get_object_or_404(
        OnCallShift.objects.filter(unit__in=units_for(request.user)).select_related("unit", "user"),
        pk=shift_id,
    )
    try:
        services.end_on_call_shift(shift=shift, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            gettext("%(unit)s: %(who)s's shift as %(tier)s ended.")
            % {
                "unit": shift.unit.name,
                "who": shift.user.get_full_name() or shift.user.username,
                "tier": shift.get_tier_display(),
            },
        )
    return redirect("monitoring:rota")
