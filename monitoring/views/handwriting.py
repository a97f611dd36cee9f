"""Handwriting samples (monitoring/handwriting.py): written on a drawing pad or photographed,
by staff (baseline, ward or clinic) or at home (the patient or a caregiver, their own course
only), and their pictures, served only through the access check here: never from a public
address, never cached.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import handwriting
from monitoring.access import (
    get_course_for,
    get_home_access,
    home_page,
    requires,
    visible_courses,
)
from monitoring.forms.corrections import CorrectionReasonForm
from monitoring.forms.handwriting import HandwritingForm, StaffHandwritingForm
from monitoring.models import HandwritingSample, User


def _save(request, form, *, course, kind: str, taken_at) -> HandwritingSample | None:
    """The sample through the one write path, or None with what is wrong on the form (every
    value typed stays; a photo must be chosen again, as browsers never refill a file field)."""
    try:
        return handwriting.record_sample(
            course=course,
            kind=kind,
            source=form.cleaned_data["source"],
            image=form.cleaned_data["image"],
            taken_at=taken_at,
            by=request.user,
        )
    except ValidationError as error:
        field = "photo" if form.cleaned_data["source"] == HandwritingSample.Source.PHOTO else None
        if hasattr(error, "error_dict"):
            for name, errors in error.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(field, error.messages)
        return None


def _page(request, template: str, context: dict, *, status: int):
    return render(request, template, {**context, "sentence": handwriting.SENTENCE}, status=status)


@requires(User.can_record_checks)
@never_cache
def staff_new(request, public_id):
    """A baseline sample, or one written on the ward or in clinic."""
    course = get_course_for(request.user, public_id)
    has_baseline = (
        HandwritingSample.objects.current()
        .filter(course=course, kind=HandwritingSample.Kind.BASELINE)
        .exists()
    )
    form = StaffHandwritingForm(
        request.POST or None,
        request.FILES or None,
        # The first sample of a course is its baseline; after that, most are ward or clinic ones.
        initial={"kind": "ward" if has_baseline else "baseline"},
    )
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        if _save(request, form, course=course, kind=kind, taken_at=form.cleaned_data["taken_at"]):
            messages.success(
                request,
                gettext("Handwriting sample saved: compare it with the baseline below."),
            )
            url = reverse("monitoring:patient-course", kwargs={"public_id": public_id})
            return redirect(f"{url}#handwriting")
    return _page(
        request,
        "monitoring/handwriting/new.html",
        {"course": course, "patient": course.patient, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@home_page
@requires(User.can_use_home)
@never_cache
def home_new(request):
    """The patient or a caregiver writes the sentence at home, for their own course."""
    access = get_home_access(request)
    course = access.course
    form = HandwritingForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        kind = HandwritingSample.Kind.HOME
        if _save(request, form, course=course, kind=kind, taken_at=timezone.now()):
            messages.success(
                request,
                gettext("Thank you. Your writing was sent; your care team will look at it."),
            )
            return redirect("monitoring:home-start")
    return _page(
        request,
        "monitoring/home/handwriting.html",
        # A caregiver hands the phone to the patient: it is the patient's writing that counts.
        {
            "form": form,
            "is_patient": access.kind == "patient",
            "patient_name": course.patient.given_name,
        },
        status=400 if request.method == "POST" else 200,
    )


def _sample(request, public_id, sample_id) -> HandwritingSample:
    """A sample of a course the user may see; any other is a 404, like a missing one."""
    sample = (
        HandwritingSample.objects.filter(
            course__in=visible_courses(request.user),
            course__patient__public_id=public_id,
            public_id=sample_id,
        )
        .select_related("course__patient", "course__unit")
        .first()
    )
    if sample is None:
        raise Http404("No such handwriting sample on your units.")
    return sample


@requires(User.can_view_patients)
@require_GET
def image(request, public_id, sample_id):
    """The sample's picture (PNG), for staff who may see its course; never stored by a browser
    or a proxy."""
    sample = _sample(request, public_id, sample_id)
    response = HttpResponse(bytes(sample.image_png), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = 'inline; filename="handwriting.png"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@requires(User.can_correct_records)
def entered_in_error(request, public_id, sample_id):
    """A sample made by mistake stays on file, marked entered in error with who and why."""
    sample = _sample(request, public_id, sample_id)
    course = sample.course
    course_url = reverse("monitoring:patient-course", kwargs={"public_id": public_id})
    if not sample.is_current:
        messages.error(request, gettext("This sample was already marked entered in error."))
        return redirect(f"{course_url}#handwriting")
    form = CorrectionReasonForm(request.POST or None)
    form.fields["reason"].help_text = gettext(
        "Kept with the sample, e.g. 'written by another patient' or 'a blank page'."
    )
    if request.method == "POST" and form.is_valid():
        try:
            handwriting.mark_entered_in_error(
                sample=sample, reason=form.cleaned_data["reason"], by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, gettext("Handwriting sample marked entered in error; it is kept.")
            )
            return redirect(f"{course_url}#handwriting")
    return render(
        request,
        "monitoring/handwriting/error.html",
        {"course": course, "patient": course.patient, "sample": sample, "form": form},
        status=400 if request.method == "POST" else 200,
    )
