"""Corrections of clinical records (never an edit in place), their history, checks not done.

A correction is a new record that supersedes the old one (``services.amend_record``); a record
made by mistake is marked entered in error (``services.mark_entered_in_error``). Both keep the
old record, say who, when and why, and regrade the course. Access follows the record's course:
a record on a course the user cannot see is a 404, like the course itself.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring import schedule, services
from monitoring.access import get_course_for, requires, visible_courses
from monitoring.display import dash
from monitoring.forms.common import DoseDecisionForm
from monitoring.forms.corrections import AMENDMENT_FORMS, CorrectionReasonForm
from monitoring.forms.nurse import CheckNotDoneForm
from monitoring.models import CheckNotDone, CheckType, NeuroAssessment, Observation, User

KIND_LABELS = {
    "vitals": _("Vital signs"),
    "symptoms": _("Symptoms"),
    "neuro": _("Neuro assessment"),
    "labs": _("Labs"),
    "treatment": _("Treatment"),
}
# Not a clinical value of the record: its bookkeeping, and the check it belongs to.
META_FIELDS = Observation.BOOKKEEPING_FIELDS | {"check_entry"}


def check_record_prefetches() -> list[Prefetch]:
    """Every record of a check, whatever its status, with the users its display names.

    The course page and the check result show superseded and entered-in-error records too
    (struck through, with who and why); joining the users keeps that to one query per kind.
    """
    return [
        Prefetch(
            f"{model._meta.model_name}_set",
            queryset=model.objects.select_related("recorded_by", "status_changed_by").order_by(
                "pk"
            ),
        )
        for model in services.RECORD_MODELS.values()
    ]


def _model_for(kind: str):
    model = services.RECORD_MODELS.get(kind)
    if model is None:
        raise Http404(gettext("No such kind of record."))
    return model


def _get_record(request, kind: str, pk: int):
    """The record if its course is visible to the user; 404 otherwise (no existence leak)."""
    model = _model_for(kind)
    return get_object_or_404(
        model.objects.select_related(
            "check_entry__course__patient",
            "check_entry__course__unit",
            "check_entry__recorded_by",
            "recorded_by",
            "status_changed_by",
        ),
        pk=pk,
        check_entry__course__in=visible_courses(request.user),
    )


def _context(kind, record, **extra) -> dict:
    course = record.check_entry.course
    return {
        "kind": kind,
        "kind_label": KIND_LABELS[kind],
        "record": record,
        "course": course,
        "patient": course.patient,
        "check": record.check_entry,
        **extra,
    }


@requires(User.can_correct_records)
def amend_record(request, kind, pk):
    """A correction: the record's values prefilled, a reason required; the old one is kept."""
    record = _get_record(request, kind, pk)
    course = record.check_entry.course
    if not record.is_current:
        messages.error(
            request,
            gettext("This record was already %(status)s: correct the current one.")
            % {"status": record.get_status_display().lower()},
        )
        return redirect("monitoring:record-history", kind=kind, pk=pk)
    form_class = AMENDMENT_FORMS[kind]
    data = request.POST if request.method == "POST" else None
    extra = {}
    if form_class.Meta.model is NeuroAssessment:
        day = timezone.localdate(record.check_entry.observed_at)
        extra["capd"] = record.capd_total is not None or (
            record.ice_total is None and course.patient.uses_capd_on(day)
        )
    form = form_class(data, record=record, prefix=kind, **extra)
    reason = CorrectionReasonForm(data)
    dose_decision = DoseDecisionForm(data)
    errors, pending = [], []
    if request.method == "POST" and all([form.is_valid(), reason.is_valid()]):
        values = form.changed_values()
        if not values:
            errors.append(gettext("Nothing changed: correct a value, or cancel."))
        else:
            try:
                services.amend_record(
                    record=record,
                    values=values,
                    reason=reason.cleaned_data["reason"],
                    by=request.user,
                    accepted_warnings=dose_decision.accepted_warnings(),
                )
            except services.DoseWarningsPending as held:
                pending = held.warnings
            except ValidationError as error:
                errors.extend(error.messages)
            else:  # the service refreshed course.status_row in the same transaction
                messages.success(
                    request,
                    gettext(
                        "%(what)s corrected; the original is kept, struck through. "
                        "Now CRS %(crs)s, ICANS %(icans)s."
                    )
                    % {
                        "what": KIND_LABELS[kind],
                        "crs": dash(course.status_row.crs_grade),
                        "icans": dash(course.status_row.icans_grade),
                    },
                )
                return redirect("monitoring:patient-course", public_id=course.patient.public_id)
    status = 400 if request.method == "POST" and not pending else 200
    return render(
        request,
        "monitoring/corrections/amend.html",
        _context(
            kind,
            record,
            form=form,
            reason=reason,
            errors=errors,
            pending=pending,
            give_anyway_label=dose_decision["give_anyway"].label,
            capd=extra.get("capd"),
        ),
        status=status,
    )


@requires(User.can_correct_records)
def mark_entered_in_error(request, kind, pk):
    """A record made by mistake (wrong patient, wrong time) stays on file, struck through."""
    record = _get_record(request, kind, pk)
    course = record.check_entry.course
    if not record.is_current:
        messages.error(
            request,
            gettext("This record was already %(status)s.")
            % {"status": record.get_status_display().lower()},
        )
        return redirect("monitoring:record-history", kind=kind, pk=pk)
    form = CorrectionReasonForm(request.POST or None)
    form.fields["reason"].help_text = gettext(
        "Kept with the record, e.g. 'charted on the wrong patient'."
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.mark_entered_in_error(
                record=record, reason=form.cleaned_data["reason"], by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                gettext(
                    "%(what)s marked entered in error; it is kept, struck through. "
                    "Now CRS %(crs)s, ICANS %(icans)s."
                )
                % {
                    "what": KIND_LABELS[kind],
                    "crs": dash(course.status_row.crs_grade),
                    "icans": dash(course.status_row.icans_grade),
                },
            )
            return redirect("monitoring:patient-course", public_id=course.patient.public_id)
    return render(
        request,
        "monitoring/corrections/error.html",
        _context(kind, record, form=form),
        status=400 if request.method == "POST" else 200,
    )


def clinical_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if f.name not in META_FIELDS]


def _shown(field, value) -> str:
    if field.choices and value not in (None, ""):
        return str(dict(field.flatchoices).get(value, value))
    return dash(value)


@requires(User.can_view_patients)
def record_history(request, kind, pk):
    """Every version of a record: the amendment chain, then each saved row change."""
    record = _get_record(request, kind, pk)
    model = type(record)
    fields = clinical_fields(model)
    # A correction belongs to the same bedside check as the record it corrects.
    siblings = {
        r.pk: r
        for r in model.objects.filter(check_entry=record.check_entry).select_related(
            "recorded_by", "status_changed_by"
        )
    }
    root = siblings[record.pk]
    while root.amends_id in siblings:
        root = siblings[root.amends_id]
    successor = {r.amends_id: r for r in siblings.values() if r.amends_id}
    chain, previous, node = [], None, root
    while node is not None:
        changes = (
            []
            if previous is None
            else [
                (
                    f.verbose_name,
                    _shown(f, getattr(previous, f.name)),
                    _shown(f, getattr(node, f.name)),
                )
                for f in fields
                if getattr(previous, f.name) != getattr(node, f.name)
            ]
        )
        values = [
            (f.verbose_name, _shown(f, getattr(node, f.name)))
            for f in fields
            if getattr(node, f.name) not in (None, "")
        ]
        chain.append({"record": node, "changes": changes, "values": values})
        previous, node = node, successor.get(node.pk)
    names = {f.name: f for f in model._meta.concrete_fields}
    labels = {
        entry["record"].pk: gettext("Correction")
        if entry["record"].amends_id
        else gettext("Original")
        for entry in chain
    }
    rows, last = [], {}
    for row in (
        model.history.filter(id__in=list(labels))
        .select_related("history_user")
        .order_by("history_date", "history_id")
    ):
        before = last.get(row.id)
        if before is not None:
            changes = [
                (
                    names[c.field].verbose_name,
                    _shown(names[c.field], c.old),
                    _shown(names[c.field], c.new),
                )
                for c in row.diff_against(before).changes
                if c.field in names and not names[c.field].is_relation
            ]
        else:  # the first saved version we have of this row: say what it was
            changes = [("status", "", row.get_status_display())]
            if row.status_reason:
                changes.append(("reason", "", row.status_reason))
        rows.append({"row": row, "label": labels[row.id], "changes": changes})
        last[row.id] = row
    return render(
        request,
        "monitoring/corrections/history.html",
        _context(
            kind,
            record,
            chain=chain,
            history=rows,
        ),
    )


@requires(User.can_record_checks)
def check_not_done(request, public_id):
    """A due check that could not be done: kept with why; the next due time moves."""
    course = get_course_for(request.user, public_id, monitoring_only=True)
    status = getattr(course, "status_row", None)
    due = schedule.due_checks(course, status)
    wanted = request.GET.get("type", "")
    if wanted not in CheckType.values:
        wanted = next((d.check_type for d in due if d.is_overdue), due[0].check_type if due else "")
    form = CheckNotDoneForm(request.POST or None, course=course, initial={"check_type": wanted})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            not_done = services.record_check_not_done(
                course=course,
                check_type=data["check_type"],
                reason=data["reason"],
                note=data["note"],
                observed_at=data["observed_at"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            next_due = {d.check_type: d for d in schedule.due_checks(course, course.status_row)}
            when = next_due.get(not_done.check_type)
            messages.success(
                request,
                f"{course.patient.full_name}: {not_done.get_check_type_display()} not "
                f"done — {not_done.get_reason_display()}"
                + (f"; due again {timezone.localtime(when.next_due):%H:%M}." if when else "."),
            )
            return redirect("monitoring:nurse-worklist")
    earlier = CheckNotDone.objects.filter(course=course).select_related("recorded_by")[:20]
    return render(
        request,
        "monitoring/corrections/not_done.html",
        {
            "course": course,
            "patient": course.patient,
            "form": form,
            "due": due,
            "earlier": earlier,
            "now": timezone.now(),
        },
        status=400 if request.method == "POST" else 200,
    )
