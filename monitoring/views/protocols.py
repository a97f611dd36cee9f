"""Monitoring protocols for admins, and the protocol version a course follows.

Our own pages rather than the Django admin, because the admin cannot say "editing a version
that courses use creates a new version": ``services.revise_protocol`` decides, and the page
tells the admin beforehand which of the two will happen.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from monitoring import alert_rules, flag_rules, schedule, services
from monitoring.access import get_course_for, requires, visible_courses
from monitoring.display import dash
from monitoring.forms.dosing import step_forms, steps_changes
from monitoring.forms.infection import InfectionProtocolForm
from monitoring.forms.protocols import (
    CheckScheduleForm,
    MoveCourseForm,
    MoveCoursesForm,
    ProtocolVersionForm,
)
from monitoring.models import (
    AuditEvent,
    CheckSchedule,
    CheckType,
    Flag,
    Protocol,
    ProtocolVersion,
    TherapyProduct,
    User,
)
from monitoring.models.alerts import TIER_LABELS


@requires(User.can_manage_protocols)
def protocol_list(request):
    """Every protocol with its versions, newest first, and how many courses use each."""
    versions = (
        ProtocolVersion.objects.with_course_counts()
        .select_related("created_by")
        .order_by("-number")
    )
    protocols = Protocol.objects.prefetch_related(Prefetch("versions", queryset=versions))
    return render(request, "monitoring/protocols/list.html", {"protocols": protocols})


def _schedule_rows(version):
    """(label, schedule or None) for every check type, in CheckType order."""
    by_type = {s.check_type: s for s in version.schedules.all()}
    return [(label, by_type.get(value)) for value, label in CheckType.choices]


def _escalation_rows(version):
    return [
        (grade, version.escalation_text("crs", grade), version.escalation_text("icans", grade))
        for grade in range(5)
    ]


@requires(User.can_manage_protocols)
def protocol_version(request, pk):
    """One version in plain words: schedules, thresholds, escalation text, who changed it."""
    version = get_object_or_404(
        ProtocolVersion.objects.with_course_counts()
        .select_related("protocol", "created_by")
        .prefetch_related("schedules"),
        pk=pk,
    )
    courses = version.courses.select_related("patient", "unit", "product").order_by("-infused_at")
    siblings = version.protocol.versions.with_course_counts().order_by("-number")
    return render(
        request,
        "monitoring/protocols/version.html",
        {
            "version": version,
            "schedules": _schedule_rows(version),
            "escalation": _escalation_rows(version),
            "deterioration": [
                (
                    kind,
                    Flag.Kind(kind).label,
                    Flag.Severity(version.deterioration_severity_for(kind)).label,
                )
                for kind in flag_rules.DETERIORATION_SEVERITY
            ],
            "ack_rows": _ack_rows(version),
            "ladder": [TIER_LABELS[tier] for tier in version.ladder()],
            "ladder_is_default": version.ladder() == alert_rules.DEFAULT_LADDER,
            "ack_source": alert_rules.ACK_MINUTES_SOURCE,
            "courses": courses,
            "siblings": siblings,
        },
    )


def _ack_rows(version) -> list[tuple[str, int, bool]]:
    """(severity, minutes a flag may wait unacknowledged, whether that is the default)."""
    rows = []
    for severity in reversed(alert_rules.SEVERITIES_THAT_ESCALATE):
        minutes = alert_rules.ack_minutes(severity, version.ack_minutes)
        rows.append(
            (
                Flag.Severity(severity).label,
                minutes,
                minutes == alert_rules.DEFAULT_ACK_MINUTES[severity],
            )
        )
    return rows


@requires(User.can_manage_protocols)
def protocol_version_edit(request, pk):
    """Edit a version: in place while no course uses it, otherwise saved as a new version."""
    version = get_object_or_404(
        ProtocolVersion.objects.with_course_counts()
        .select_related("protocol")
        .prefetch_related("schedules"),
        pk=pk,
    )
    current = {s.check_type: s for s in version.schedules.all()}
    data = request.POST if request.method == "POST" else None
    form = ProtocolVersionForm(
        data,
        initial=ProtocolVersionForm.initial_for(version),
        preview=data is not None and "preview" in data,
    )
    rows = [
        CheckScheduleForm(data, check_type=value, schedule=current.get(value))
        for value in CheckType.values
    ]
    current_steps = list(version.dose_steps.all())
    step_rows = step_forms(data, current_steps)
    # Infection prevention has its own form; a post without its fields changes none of them.
    infection_data = data if data and any(k.startswith("infection-") for k in data) else None
    infection_form = InfectionProtocolForm(
        infection_data, prefix="infection", initial=InfectionProtocolForm.initial_for(version)
    )
    infection_ok = infection_form.is_valid() if infection_form.is_bound else True
    course_count = version.courses.count()
    next_number = (
        version.protocol.versions.order_by("-number").values_list("number", flat=True).first() + 1
    )
    preview = None
    errors = []
    valid = [
        form.is_valid(),
        infection_ok,
        *[row.is_valid() for row in rows],
        *[r.is_valid() for r in step_rows],
    ]
    if request.method == "POST" and all(valid):
        changes = form.changes(version)
        if infection_form.is_bound:
            changes |= infection_form.changes(version)
        schedules = {row.check_type: row.changes() for row in rows if row.changes()}
        dose_steps = steps_changes(step_rows, current_steps)
        if not changes and not schedules and dose_steps is None:
            errors.append(gettext("Nothing changed: edit a value, or cancel."))
        elif "preview" in request.POST:
            preview = {
                "rows": [(row.label, row.preview()) for row in rows],
                "changes": _describe_changes(version, changes, schedules, current)
                + ([gettext("Dose steps changed")] if dose_steps is not None else []),
                "note_missing": not form.cleaned_data["change_note"].strip(),
            }
        else:
            try:
                target = services.revise_protocol(
                    version=version,
                    changes=changes,
                    schedules=schedules,
                    note=form.cleaned_data["change_note"],
                    by=request.user,
                    dose_steps=dose_steps,
                )
            except ValidationError as error:
                errors.extend(error.messages)
            else:
                if target.pk == version.pk:
                    messages.success(
                        request,
                        gettext("Version %(number)s edited in place.") % {"number": version.number},
                    )
                else:
                    messages.success(
                        request,
                        ngettext(
                            "Saved as version %(new)s. The %(count)d course on version %(old)s "
                            "keeps it; new courses start on the newest active version.",
                            "Saved as version %(new)s. The %(count)d courses on version %(old)s "
                            "keep it; new courses start on the newest active version.",
                            course_count,
                        )
                        % {"new": target.number, "count": course_count, "old": version.number},
                    )
                uncovered = [
                    product.label
                    for product in TherapyProduct.objects.active()
                    if services.protocol_version_for(product.code) is None
                ]
                if uncovered:
                    messages.warning(
                        request,
                        gettext(
                            "No active protocol version applies to %(products)s: new courses "
                            "of these products would start without a schedule."
                        )
                        % {"products": "; ".join(str(label) for label in uncovered)},
                    )
                return redirect("monitoring:admin-protocol-version", pk=target.pk)
    error_lines = [
        *errors,
        *_error_lines(form, ""),
        *_error_lines(infection_form, ""),
        *[line for row in rows for line in _error_lines(row, f"{row.label}, ")],
        *[
            line
            for number, row in enumerate(step_rows, start=1)
            for line in _error_lines(row, gettext("Dose step %(number)s, ") % {"number": number})
        ],
    ]
    return render(
        request,
        "monitoring/protocols/edit.html",
        {
            "version": version,
            "form": form,
            "rows": rows,
            "step_rows": step_rows,
            "infection_form": infection_form,
            "course_count": course_count,
            "next_number": next_number,
            "preview": preview,
            "error_lines": error_lines,
            "errors": errors,  # the summary lists these, then each form's own, with links
            "ack_source": alert_rules.ACK_MINUTES_SOURCE,
        },
        status=400 if error_lines else 200,
    )


def _error_lines(form, prefix: str) -> list[str]:
    """One line per problem, naming its field, for the top of the page."""
    if not form.is_bound:
        return []
    return [
        f"{prefix}{'' if name == '__all__' else str(form[name].label) + ': '}{error}"
        for name, errors in form.errors.items()
        for error in errors
    ]


def _describe_changes(version, changes: dict, schedules: dict, current: dict) -> list[str]:
    """What saving would change, one line each, for the preview."""
    lines = []
    for name, value in changes.items():
        if name == "escalation":
            lines.append(gettext("Escalation text changed"))
            continue
        if name == "prophylaxis":
            lines.append(gettext("Prophylaxis checklist changed"))
            continue
        if name == "ack_minutes":
            lines.append(
                gettext("Minutes a flag may wait unacknowledged: %(before)s → %(after)s")
                % {
                    "before": alert_rules.ack_minutes_text(version.ack_minutes),
                    "after": alert_rules.ack_minutes_text(value),
                }
            )
            continue
        if name == "escalation_ladder":
            lines.append(
                gettext("Escalation ladder was %(before)s; now %(after)s")
                % {
                    "before": alert_rules.ladder_text(version.ladder()),
                    "after": alert_rules.ladder_text(value),
                }
            )
            continue
        label = ProtocolVersion._meta.get_field(name).verbose_name
        lines.append(f"{label}: {_shown(getattr(version, name))} → {_shown(value)}")
    for check_type, values in schedules.items():
        old = current.get(check_type)
        for name, value in values.items():
            label = CheckType(check_type).label
            field = CheckSchedule._meta.get_field(name).verbose_name
            before = _shown(getattr(old, name)) if old else gettext("not scheduled")
            lines.append(f"{label}, {field}: {before} → {_shown(value)}")
    return lines


def _shown(value) -> str:
    if isinstance(value, list):  # a version's products
        return ", ".join(value) or gettext("every product")
    return dash(value)


@requires(User.can_change_course_protocol)
def course_protocol(request, public_id):
    """The protocol version a course follows, and moving it to another one on purpose."""
    course = get_course_for(request.user, public_id)
    version = course.protocol_version
    if version is not None:
        version = (
            ProtocolVersion.objects.with_course_counts()
            .select_related("protocol")
            .prefetch_related("schedules")
            .get(pk=version.pk)
        )
        course.protocol_version = version
    applicable = [
        v.pk
        for v in ProtocolVersion.objects.all()
        if not v.products or course.product_id in v.products
    ]
    choices = (
        ProtocolVersion.objects.filter(pk__in=applicable)
        .exclude(pk=getattr(version, "pk", None))
        .select_related("protocol")
    )
    form = MoveCourseForm(request.POST or None, versions=choices)
    if request.method == "POST" and form.is_valid():
        try:  # the service refuses a course whose monitoring has ended
            services.move_course_to_version(
                course=course,
                version=form.cleaned_data["version"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                gettext("Course moved to %(version)s.") % {"version": form.cleaned_data["version"]},
            )
            return redirect("monitoring:course-protocol", public_id=public_id)
    moves = AuditEvent.objects.filter(
        course=course, action=AuditEvent.Action.COURSE_PROTOCOL_MOVED
    ).select_related("user")
    status = getattr(course, "status_row", None)
    return render(
        request,
        "monitoring/protocols/course.html",
        {
            "course": course,
            "patient": course.patient,
            "version": version,
            "schedules": _schedule_rows(version) if version else [],
            "due": schedule.due_checks(course, status) if version else [],
            "form": form,
            "moves": moves,
            "now": timezone.now(),
        },
        status=400 if request.method == "POST" else 200,
    )


@requires(User.can_change_course_protocol)
def move_courses(request, pk):
    """Move several (or all) of the user's courses on one version to another, in three steps:
    choose (GET), confirm the list (POST "review"), move (POST "confirm"). The service moves all
    or none and audits each course as a single move; the confirmation says beforehand which
    courses it would refuse, and why."""
    version = get_object_or_404(
        ProtocolVersion.objects.with_course_counts().select_related("protocol"), pk=pk
    )
    # Only the courses the user may change: their units' (admins: all) on this version.
    on_version = (
        visible_courses(request.user)
        .filter(protocol_version=version)
        .select_related("patient", "unit", "protocol_version__protocol", "product")
        .order_by("unit__name", "infused_at", "pk")
    )
    targets = (
        ProtocolVersion.objects.with_course_counts()
        .exclude(pk=version.pk)
        .select_related("protocol")
        .order_by("protocol__name", "-number")
    )
    form = MoveCoursesForm(request.POST or None, courses=on_version, versions=targets)
    editing = "edit" in request.POST  # back from the confirmation to change the choice
    if request.method == "POST" and not editing and form.is_valid():
        chosen = list(form.cleaned_data["courses"])
        target = form.cleaned_data["version"]
        refused = [
            (course, why)
            for course in chosen
            if (why := services.move_refusal(course, target)) is not None
        ]
        if "confirm" in request.POST and not refused:
            try:
                services.move_courses_to_version(
                    courses=chosen,
                    version=target,
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                )
            except services.MovesRefused as error:  # something changed since the confirmation
                refused = error.refused
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(count)d course moved to %(version)s.",
                        "%(count)d courses moved to %(version)s.",
                        len(chosen),
                    )
                    % {"count": len(chosen), "version": target},
                )
                return redirect("monitoring:protocol-version-move-courses", pk=version.pk)
        refused_pks = {course.pk for course, _ in refused}
        return render(
            request,
            "monitoring/protocols/move_confirm.html",
            {
                "version": version,
                "form": form,
                "target": target,
                "moving": [c for c in chosen if c.pk not in refused_pks],
                "refused": refused,
            },
            status=400 if refused else 200,
        )
    courses = list(on_version)
    if form.is_bound:
        chosen = set(form["courses"].value() or [])
    elif request.GET.get("all"):
        chosen = {str(c.pk) for c in courses if c.is_under_monitoring}
    else:
        chosen = set()
    return render(
        request,
        "monitoring/protocols/move_courses.html",
        {
            "version": version,
            "form": form,
            "courses": courses,
            "running": sum(1 for c in courses if c.is_under_monitoring),
            "chosen": chosen,
        },
        status=400 if form.is_bound and not editing else 200,
    )
