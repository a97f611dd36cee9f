"""Admin forms: a protocol version, its check schedules, moving a course between versions."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_lazy as _

from monitoring import alert_rule_messages, alert_rules, flag_rules, home_schedule
from monitoring.forms.common import (
    range_validator,
)
from monitoring.models import (
    VITAL_RANGES,
    CheckSchedule,
    CheckType,
    Flag,
    ProtocolVersion,
    TherapyProduct,
    TreatmentCourse,
)
from monitoring.models.alerts import TIER_CHOICES
from monitoring.models.protocols import (
    HOME_CALL_TEMPERATURE_RANGE,
    HOME_COUNTDOWN_DAYS_RANGE,
    WINDOW_RANGES,
)

PROTOCOL_RANGES = {
    "monitoring_window_days": (1, 365, "days"),
    # Home monitoring's countdowns (monitoring/home.py); blank: none shown.
    "stay_near_days": (*HOME_COUNTDOWN_DAYS_RANGE, "days"),
    "no_driving_days": (*HOME_COUNTDOWN_DAYS_RANGE, "days"),
    # What a check-in at home tells the person (monitoring/home_rules.py).
    "home_call_temperature_c": (*HOME_CALL_TEMPERATURE_RANGE, "°C"),
    # Home check-ins (monitoring/home_schedule.py); blank interval: no home schedule.
    "home_checkin_interval_hours": (*home_schedule.INTERVAL_HOURS_RANGE, "h"),
    "home_checkin_grace_minutes": (*home_schedule.GRACE_MINUTES_RANGE, "min"),
    "sbp_low_mmhg": (40, 150, "mmHg"),
    "heart_rate_high": (*VITAL_RANGES["heart_rate_bpm"], "/min"),
    "heart_rate_low": (*VITAL_RANGES["heart_rate_bpm"], "/min"),
    "resp_rate_high": (*VITAL_RANGES["resp_rate_per_min"], "/min"),
    "resp_rate_low": (*VITAL_RANGES["resp_rate_per_min"], "/min"),
    "spo2_low_pct": (70, 99, "%"),
    "temperature_high_c": (Decimal("37.0"), Decimal("40.0"), "°C"),
    "marker_rise_factor": (Decimal("1.1"), Decimal("10.0"), "×"),
    # How long values stay current in a grade (timeline.Windows); the database has the same.
    **{
        name: (low, high, "h" if name.endswith("hours") else "min")
        for name, (low, high) in WINDOW_RANGES.items()
    },
    "overdue_grace_minutes": (*alert_rules.OVERDUE_GRACE_RANGE, "min"),
}
PROTOCOL_FIELDS = ["products", *PROTOCOL_RANGES, "notify_patient_names", "is_active", "is_template"]
# The escalation until someone acknowledges (alert_rules): one field per escalating severity,
# most severe first, and one choice per rung of the ladder.
ACK_FIELDS = {
    f"ack_{alert_rules.SEVERITY_WORDS[severity]}": severity
    for severity in reversed(alert_rules.SEVERITIES_THAT_ESCALATE)
}
LADDER_FIELDS = [f"ladder_{rung}" for rung in range(1, len(alert_rules.TIERS) + 1)]
ORDINALS = [_("1st"), _("2nd"), _("3rd"), _("4th"), _("5th"), _("6th")]
NAMES_WARNING = _(
    "On: the patient's name goes out in e-mail subjects, push notifications and pager text, "
    "where a lock screen, a shared pager or a forwarded e-mail shows it to anyone nearby. "
    "Off (recommended): messages say only the unit, bed and severity; the name is shown "
    "behind the login."
)
# When the tightened interval applies (any of them).
TIGHTEN_CONDITIONS = ["tighten_at_crs_grade", "tighten_at_icans_grade", "tighten_on_neuro_change"]
# minutes; the same ranges as the database constraints on CheckSchedule
SCHEDULE_RANGES = {
    "interval_minutes": (15, 7 * 24 * 60),
    "tightened_interval_minutes": (5, 7 * 24 * 60),
    "febrile_interval_minutes": (5, 7 * 24 * 60),
}


def _add_range(field: forms.Field, label: str, low, high, unit: str) -> None:
    field.validators.append(range_validator(label, low, high, unit))
    field.widget.attrs.update({"min": low, "max": high})
    field.help_text = f"{low}–{high} {unit}".strip()


class ProtocolVersionForm(forms.Form):
    """The version-wide settings of a protocol; each check type's schedule has its own form."""

    products = forms.MultipleChoiceField(
        label=_("Products"),
        # Every product on the list (a version may keep a retired one), by class and name.
        choices=lambda: [(p.code, p.label) for p in TherapyProduct.objects.all()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    monitoring_window_days = forms.IntegerField(label=_("Monitoring window (days from day 0)"))
    stay_near_days = forms.IntegerField(required=False)
    no_driving_days = forms.IntegerField(required=False)
    home_call_temperature_c = forms.DecimalField(decimal_places=1)
    home_checkin_interval_hours = forms.IntegerField(required=False)
    home_checkin_grace_minutes = forms.IntegerField()
    sbp_low_mmhg = forms.IntegerField(required=False)
    heart_rate_high = forms.IntegerField()
    heart_rate_low = forms.IntegerField()
    resp_rate_high = forms.IntegerField()
    resp_rate_low = forms.IntegerField()
    spo2_low_pct = forms.IntegerField()
    temperature_high_c = forms.DecimalField(decimal_places=1)
    marker_rise_factor = forms.DecimalField(decimal_places=1)
    point_valid_minutes = forms.IntegerField()
    support_confirm_minutes = forms.IntegerField()
    neuro_valid_minutes = forms.IntegerField()
    masked_fever_window_hours = forms.IntegerField()
    overdue_grace_minutes = forms.IntegerField()
    notify_patient_names = forms.BooleanField(required=False, help_text=NAMES_WARNING)
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("New courses start on the newest active version for their product."),
    )
    is_template = forms.BooleanField(
        label=_("Still the shipped template (not yet reviewed for clinical use)"),
        required=False,
        help_text=_("Untick once your cellular-therapy program has reviewed and signed it off."),
    )
    change_note = forms.CharField(
        label=_("Change note"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What changed and why: kept with the version and in the audit log."),
        required=False,  # a preview needs none; saving does (clean)
    )

    def __init__(self, *args, preview: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.preview = preview
        for name, (low, high, unit) in PROTOCOL_RANGES.items():
            field = self.fields[name]
            if name != "monitoring_window_days":
                field.label = capfirst(ProtocolVersion._meta.get_field(name).verbose_name)
            _add_range(field, field.label.split(" (")[0], low, high, unit)
        self.fields["sbp_low_mmhg"].help_text += gettext(
            "; blank: adults < 90 mmHg, children by PALS age limits."
        )
        self.fields["products"].help_text = gettext("None ticked: every product.")
        for name in ("stay_near_days", "no_driving_days"):
            self.fields[name].help_text += gettext("; blank: the home page shows no countdown.")
        self.fields["home_checkin_interval_hours"].help_text += gettext(
            "; blank: no home check-in schedule."
        )
        for name in WINDOW_RANGES:
            self.fields[
                name
            ].help_text = (
                f"{ProtocolVersion._meta.get_field(name).help_text} {self.fields[name].help_text}"
            )
        for kind, default in flag_rules.DETERIORATION_SEVERITY.items():
            self.fields[f"deterioration_{kind}"] = forms.TypedChoiceField(
                label=str(Flag.Kind(kind).label),
                choices=Flag.Severity.choices,
                coerce=int,
                initial=default,
            )
        self.fields["notify_patient_names"].label = capfirst(
            ProtocolVersion._meta.get_field("notify_patient_names").verbose_name
        )
        for name, severity in ACK_FIELDS.items():
            field = forms.IntegerField(
                label=gettext("%(severity)s flags (min)")
                % {"severity": Flag.Severity(severity).label},
                initial=alert_rules.DEFAULT_ACK_MINUTES[severity],
            )
            _add_range(field, Flag.Severity(severity).label, *alert_rules.ACK_MINUTES_RANGE, "min")
            field.help_text += gettext("; default %(minutes)s") % {
                "minutes": alert_rules.DEFAULT_ACK_MINUTES[severity]
            }
            self.fields[name] = field
        tiers = [("", "—"), *TIER_CHOICES]
        for rung, name in enumerate(LADDER_FIELDS):
            self.fields[name] = forms.ChoiceField(
                label=gettext("%(ordinal)s tier") % {"ordinal": ORDINALS[rung]},
                choices=tiers,
                required=False,
            )
        for domain, label in (("crs", "CRS"), ("icans", "ICANS")):
            for grade in range(5):
                self.fields[f"escalation_{domain}_{grade}"] = forms.CharField(
                    label=gettext("%(domain)s grade %(grade)s") % {"domain": label, "grade": grade},
                    required=False,
                    max_length=1000,
                    widget=forms.Textarea(attrs={"rows": 3}),
                    help_text=gettext("Blank: the ASCO-based default text."),
                )

    @staticmethod
    def initial_for(version: ProtocolVersion) -> dict:
        initial = {name: getattr(version, name) for name in PROTOCOL_FIELDS}
        for domain in flag_rules.ESCALATION:
            for grade in range(5):
                initial[f"escalation_{domain}_{grade}"] = version.escalation_text(domain, grade)
        for kind in flag_rules.DETERIORATION_SEVERITY:
            initial[f"deterioration_{kind}"] = version.deterioration_severity_for(kind)
        for name, severity in ACK_FIELDS.items():
            initial[name] = alert_rules.ack_minutes(severity, version.ack_minutes)
        ladder = version.ladder()
        for rung, name in enumerate(LADDER_FIELDS):
            initial[name] = ladder[rung] if rung < len(ladder) else ""
        return initial

    @property
    def ack_fields(self) -> list:
        return [self[name] for name in ACK_FIELDS]

    @property
    def ladder_fields(self) -> list:
        return [self[name] for name in LADDER_FIELDS]

    def ack_minutes(self) -> dict:
        """Minutes by severity ({"4": 5, "3": 15, "2": 60}), stored in full."""
        return {str(severity): self.cleaned_data[name] for name, severity in ACK_FIELDS.items()}

    def ladder(self) -> list[str]:
        """The tiers chosen, in rung order (the blank rungs left out)."""
        return [self.cleaned_data[name] for name in LADDER_FIELDS if self.cleaned_data.get(name)]

    @property
    def deterioration_fields(self) -> list:
        return [self[f"deterioration_{kind}"] for kind in flag_rules.DETERIORATION_SEVERITY]

    def deterioration_severity(self) -> dict:
        """Every kind's severity, stored in full so the version never changes with defaults."""
        return {
            kind: self.cleaned_data[f"deterioration_{kind}"]
            for kind in flag_rules.DETERIORATION_SEVERITY
        }

    @property
    def escalation_crs_fields(self) -> list:
        return [self[f"escalation_crs_{grade}"] for grade in range(5)]

    @property
    def escalation_icans_fields(self) -> list:
        return [self[f"escalation_icans_{grade}"] for grade in range(5)]

    def clean(self):
        data = super().clean()
        for low, high, what in (
            ("heart_rate_low", "heart_rate_high", gettext("tachycardia")),
            ("resp_rate_low", "resp_rate_high", gettext("high respiratory rate")),
        ):
            if data.get(low) is not None and data.get(high) is not None and data[low] >= data[high]:
                self.add_error(
                    low,
                    gettext("Must be below the %(what)s limit (%(limit)s/min).")
                    % {"what": what, "limit": data[high]},
                )
        self._clean_escalation_settings(data)
        # The note is kept with the version that is saved; a preview saves nothing.
        if not self.preview and not (data.get("change_note") or "").strip():
            self.add_error("change_note", gettext("Say what changed and why."))
        return data

    def _clean_escalation_settings(self, data) -> None:
        """The rules services.check_alert_settings applies (alert_rules'), on their fields."""
        if all(data.get(name) is not None for name in ACK_FIELDS):
            fields = {severity: name for name, severity in ACK_FIELDS.items()}
            for severity, message in alert_rules.ack_minutes_problems(self.ack_minutes()):
                self.add_error(fields.get(severity), alert_rule_messages.render(message))
        rungs = [data.get(name, "") for name in LADDER_FIELDS]
        if any(name not in data for name in LADDER_FIELDS):
            return  # an unknown tier: its field says so
        chosen = [(rung, tier) for rung, tier in enumerate(rungs) if tier]
        gap = next((rung for rung, tier in enumerate(rungs) if not tier), None)
        if chosen and gap is not None and gap < chosen[-1][0]:
            self.add_error(
                LADDER_FIELDS[gap],
                gettext(
                    "Fill the ladder from the 1st tier down: the %(ordinal)s is empty but a "
                    "later one is chosen."
                )
                % {"ordinal": ORDINALS[gap]},
            )
            return
        for position, message in alert_rules.ladder_problems([tier for _rung, tier in chosen]):
            rung = chosen[position][0] if position is not None and position < len(chosen) else 0
            self.add_error(LADDER_FIELDS[rung], alert_rule_messages.render(message))

    def escalation(self) -> dict:
        """Every grade's text, stored in full so the version never changes with the defaults."""
        return {
            domain: {
                str(grade): self.cleaned_data[f"escalation_{domain}_{grade}"].strip()
                or defaults[grade]
                for grade in range(5)
            }
            for domain, defaults in flag_rules.ESCALATION.items()
        }

    def changes(self, version: ProtocolVersion) -> dict:
        """The fields whose value differs from ``version`` (what services.revise_protocol takes)."""
        changes = {}
        for name in PROTOCOL_FIELDS:
            value = self.cleaned_data[name]
            if name == "products":
                # Kept in the order the products were added (the shipped list's order).
                order = TherapyProduct.objects.order_by("pk").values_list("code", flat=True)
                value = [code for code in order if code in value]
                if sorted(value) != sorted(version.products or []):
                    changes[name] = value
            elif value != getattr(version, name):
                changes[name] = value
        severities = self.deterioration_severity()
        if any(v != version.deterioration_severity_for(k) for k, v in severities.items()):
            changes["deterioration_severity"] = severities
        ack = self.ack_minutes()
        if any(
            minutes != alert_rules.ack_minutes(int(severity), version.ack_minutes)
            for severity, minutes in ack.items()
        ):
            changes["ack_minutes"] = ack
        if self.ladder() != version.ladder():
            changes["escalation_ladder"] = self.ladder()
        escalation = self.escalation()
        if any(
            text != version.escalation_text(domain, int(grade))
            for domain, texts in escalation.items()
            for grade, text in texts.items()
        ):
            changes["escalation"] = escalation
        return changes


GRADE_CHOICES = [("", "—"), *[(grade, f"≥ {grade}") for grade in range(1, 5)]]


class CheckScheduleForm(forms.Form):
    """How often one check type is due under a protocol version, and when it tightens."""

    interval_minutes = forms.IntegerField(label=_("Every (minutes)"), required=False)
    tightened_interval_minutes = forms.IntegerField(label=_("Tightened (minutes)"), required=False)
    tighten_at_crs_grade = forms.TypedChoiceField(
        label=_("Tighten at CRS"),
        choices=GRADE_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
    tighten_at_icans_grade = forms.TypedChoiceField(
        label=_("Tighten at ICANS"),
        choices=GRADE_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
    tighten_on_neuro_change = forms.BooleanField(
        label=_("Tighten once an ICE point is lost"), required=False
    )
    febrile_interval_minutes = forms.IntegerField(
        label=_("While febrile (minutes)"),
        required=False,
    )

    def __init__(self, *args, check_type: str, schedule: CheckSchedule | None = None, **kwargs):
        initial = schedule.settings() if schedule else {}
        super().__init__(*args, prefix=f"schedule-{check_type}", initial=initial, **kwargs)
        self.check_type, self.schedule = check_type, schedule
        self.label = CheckType(check_type).label
        for name, (low, high) in SCHEDULE_RANGES.items():
            _add_range(self.fields[name], self.fields[name].label.split(" (")[0], low, high, "min")
        self.fields["febrile_interval_minutes"].help_text += gettext("; with fever (any CRS grade)")
        if schedule is None:
            self.fields["interval_minutes"].help_text += gettext("; blank: not scheduled")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        interval = data.get("interval_minutes")
        tightened = data.get("tightened_interval_minutes")
        febrile = data.get("febrile_interval_minutes")
        conditions = any(data.get(name) for name in TIGHTEN_CONDITIONS)
        if interval is None:
            if self.schedule is not None:
                self.add_error(
                    "interval_minutes",
                    gettext(
                        "Give the usual interval: a scheduled check cannot be removed (it is "
                        "every %(minutes)s min)."
                    )
                    % {"minutes": self.schedule.interval_minutes},
                )
            elif tightened is not None or conditions or febrile is not None:
                self.add_error(
                    "interval_minutes",
                    gettext(
                        "Give the usual interval, or clear the row to leave this check unscheduled."
                    ),
                )
            return data
        if febrile is not None and febrile >= interval:
            self.add_error(
                "febrile_interval_minutes",
                gettext("Must be shorter than the usual interval (%(minutes)s min), or left blank.")
                % {"minutes": interval},
            )
        if tightened is not None and not conditions:
            self.add_error(
                "tightened_interval_minutes",
                gettext(
                    "Choose when the shorter interval applies (CRS, ICANS or ICE change), "
                    "or clear it."
                ),
            )
        elif conditions and tightened is None:
            self.add_error(
                "tightened_interval_minutes",
                gettext("Give the shorter interval that applies while tightened."),
            )
        elif tightened is not None and tightened >= interval:
            self.add_error(
                "tightened_interval_minutes",
                gettext("Must be shorter than the usual interval (%(minutes)s min).")
                % {"minutes": interval},
            )
        return data

    def values(self) -> dict | None:
        """The row's schedule, or None when the check type is left unscheduled."""
        if self.cleaned_data.get("interval_minutes") is None:
            return None
        return {name: self.cleaned_data[name] for name in CheckSchedule.SETTINGS}

    def changes(self) -> dict:
        values = self.values()
        if values is None:
            return {}
        if self.schedule is None:
            return values
        return {
            name: value for name, value in values.items() if getattr(self.schedule, name) != value
        }

    def preview(self) -> CheckSchedule | None:
        """An unsaved schedule with the submitted values, to describe in plain words."""
        values = self.values()
        return CheckSchedule(check_type=self.check_type, **values) if values else None


class MoveCourseForm(forms.Form):
    version = forms.ModelChoiceField(
        ProtocolVersion.objects.none(), label=_("Move to protocol version"), empty_label=None
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Reason"),
        help_text=_("Why this course changes protocol version (kept in the audit log)."),
        error_messages={"required": _("Say why the course changes protocol version.")},
    )

    def __init__(self, *args, versions, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["version"]
        field.queryset = versions
        field.label_from_instance = _version_choice


def _version_choice(version: ProtocolVersion) -> str:
    """ "Default v2 — active"; the usage reads ``with_course_counts()`` where annotated."""
    return f"{version} — {version.usage_label}" + (
        " — " + gettext("TEMPLATE") if version.is_template else ""
    )


class MoveCoursesForm(forms.Form):
    """Several courses on one version moved to another at once (services.move_courses_to_version).
    ``courses`` are the ones the user may change (access.visible_courses) on that version."""

    courses = forms.ModelMultipleChoiceField(
        TreatmentCourse.objects.none(),
        error_messages={
            "required": gettext_lazy("Choose at least one course to move."),
            "invalid_choice": gettext_lazy(
                "One of the chosen courses is not on this version or not yours."
            ),
            "invalid_pk_value": gettext_lazy(
                "One of the chosen courses is not on this version or not yours."
            ),
        },
    )
    version = forms.ModelChoiceField(
        ProtocolVersion.objects.none(),
        label=gettext_lazy("Move to protocol version"),
        empty_label=None,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Why these courses change protocol version (kept in the audit log)."
        ),
        error_messages={"required": gettext_lazy("Say why the courses change protocol version.")},
    )

    def __init__(self, *args, courses, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["courses"].queryset = courses
        self.fields["version"].queryset = versions
        # Listed once: the select widget and crispy's template would each query the versions.
        self.fields["version"].choices = [(v.pk, _version_choice(v)) for v in versions]
