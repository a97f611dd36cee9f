"""Care-team forms: flags, grade confirmation, treatments given."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring.display import dash
from monitoring.forms.common import (
    GIVE_ANYWAY_LABEL,
    ObservationTimeForm,
    ShownWarningsField,
)
from monitoring.models import (
    GradeConfirmation,
    Treatment,
)
from monitoring.services import is_lower_grade, lower_grade_message

# "Grade 2", in the reader's language when the form is rendered (a class attribute is built once).
_grade_label = lazy(lambda n: gettext("Grade %(n)s") % {"n": n}, str)


class _SeenFlagForm(forms.Form):
    """What the clinician saw of the flag. A flag can escalate between reading and acting (the
    board's refresh pauses while a note is typed): acting on a flag that changed is refused."""

    seen_severity = forms.IntegerField(required=False, widget=forms.HiddenInput)
    seen_message = forms.CharField(
        required=False, strip=False, max_length=500, widget=forms.HiddenInput
    )

    def check_seen(self, flag) -> None:
        seen = (self.cleaned_data.get("seen_severity"), self.cleaned_data.get("seen_message"))
        if seen != (None, "") and seen != (flag.severity, flag.message):
            raise ValidationError(
                gettext(
                    "This flag changed since you saw it: it is now %(severity)s, "
                    "“%(message)s”. Nothing was changed; confirm again if you still mean to."
                )
                % {"severity": flag.get_severity_display(), "message": flag.display_message},
                code="changed",
            )


class FlagAcknowledgeForm(_SeenFlagForm):
    note = forms.CharField(
        label=_("Note"),
        max_length=500,
        required=False,
        help_text=_("Optional: what you are doing about it."),
    )


class FlagResolveForm(_SeenFlagForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        error_messages={"required": _("Give the reason the flag is resolved.")},
    )


class CourseAcknowledgeForm(forms.Form):
    """Acknowledge every unacknowledged flag of a patient with one note; ``seen`` says which
    flags the clinician was shown (``services.open_flags_token``)."""

    note = forms.CharField(
        label=_("Note"),
        max_length=500,
        required=False,
        help_text=_("Optional: what you are doing about them."),
    )
    seen = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


def snapshot_label(course, snapshot) -> str:
    """A graded moment of the course: "D+3 2026-03-01 14:05 — CRS 2 · ICANS 0"."""
    at = timezone.localtime(snapshot.observed_at)
    grades = " · ".join(
        f"{name} {_grade_text(computed, confirmed)}"
        for name, computed, confirmed in (
            ("CRS", snapshot.crs_grade, snapshot.crs_confirmed_grade),
            ("ICANS", snapshot.icans_grade, snapshot.icans_confirmed_grade),
        )
    )
    return f"{course.day_label(at)} {at:%Y-%m-%d %H:%M} — {grades}"


def _grade_text(computed, confirmed) -> str:
    text = dash(computed)
    return text if confirmed is None else f"{text} (confirmed {confirmed})"


class SnapshotSelect(forms.Select):
    """The moments of a course, each option carrying its computed grades (``data-crs``,
    ``data-icans``) so that static/js/confirm_grade.js can start the grade at the computed one
    of the moment and domain chosen."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grades: dict = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        for domain, grade in self.grades.get(value, {}).items():
            option["attrs"][f"data-{domain}"] = "" if grade is None else grade
        return option


class GradeConfirmationForm(forms.Form):
    """Confirm or override the computed grade of one moment; the reason is required.

    ``snapshots`` are the course's own (the page has them in memory already): the id of
    another course's snapshot is not a valid choice. The grade starts at the computed grade of
    the moment shown, never at 0; a lower grade needs "I confirm the lower grade" too
    (``services.confirm_grade(confirm_lower=True)``, which enforces it).
    """

    snapshot = forms.TypedChoiceField(label=_("Moment"), coerce=int, widget=SnapshotSelect)
    domain = forms.ChoiceField(label=_("Domain"), choices=GradeConfirmation.Domain.choices)
    grade = forms.TypedChoiceField(
        label=_("Confirmed grade"),
        coerce=int,
        empty_value=None,
        choices=[("", "—"), *[(n, _grade_label(n)) for n in range(5)]],
        error_messages={"required": _("Choose the grade you confirm.")},
    )
    confirm_lower = forms.BooleanField(
        label=_("I confirm the lower grade"),
        required=False,
        help_text=_("Needed when your grade is lower than the computed one."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Give the reason for the confirmation or override.")},
        help_text=_(
            "Clinical reasoning; shown beside the computed grade and kept in the audit log."
        ),
    )

    def __init__(self, *args, course, snapshots, **kwargs):
        super().__init__(*args, **kwargs)
        self.snapshots = {snapshot.pk: snapshot for snapshot in snapshots}
        self.fields["snapshot"].choices = [
            (pk, snapshot_label(course, snapshot)) for pk, snapshot in self.snapshots.items()
        ]
        self.fields["snapshot"].widget.grades = {
            pk: {"crs": s.crs_grade, "icans": s.icans_grade} for pk, s in self.snapshots.items()
        }
        if not self.is_bound:
            self._start_at_the_computed_grade()

    def _start_at_the_computed_grade(self) -> None:
        """The moment asked for (else the latest) and the domain that waits for review (else
        CRS), at its computed grade."""
        snapshot = self.snapshots.get(self.initial.get("snapshot")) or next(
            iter(self.snapshots.values()), None
        )
        if snapshot is None:
            return
        domain = self.initial.get("domain") or (
            "icans" if snapshot.icans_needs_review and not snapshot.crs_needs_review else "crs"
        )
        self.initial.update(
            snapshot=snapshot.pk, domain=domain, grade=getattr(snapshot, f"{domain}_grade")
        )

    def clean_snapshot(self):
        return self.snapshots[self.cleaned_data["snapshot"]]

    @property
    def lower_than_computed(self) -> bool:
        """The grade chosen is below the computed one: the second confirmation is shown."""
        data = getattr(self, "cleaned_data", {})
        snapshot, domain = data.get("snapshot"), data.get("domain")
        if snapshot is None or domain is None:
            return bool(self.errors.get("confirm_lower"))
        return is_lower_grade(data.get("grade"), getattr(snapshot, f"{domain}_grade"))

    def clean(self):
        data = super().clean()
        snapshot, domain, grade = data.get("snapshot"), data.get("domain"), data.get("grade")
        if snapshot is not None and domain and grade is not None:
            computed = getattr(snapshot, f"{domain}_grade")
            if is_lower_grade(grade, computed) and not data.get("confirm_lower"):
                self.add_error("confirm_lower", lower_grade_message(grade, computed))
        return data


_TREATMENT_FIELDS = forms.fields_for_model(
    Treatment, fields=["drug", "drug_other", "dose", "dose_unit", "route"]
)


class TreatmentGivenForm(ObservationTimeForm):
    """One treatment given, at the time it was given (a late entry sets the time back)."""

    drug = _TREATMENT_FIELDS["drug"]
    drug_other = _TREATMENT_FIELDS["drug_other"]
    dose = _TREATMENT_FIELDS["dose"]
    dose_unit = _TREATMENT_FIELDS["dose_unit"]
    route = _TREATMENT_FIELDS["route"]
    give_anyway = forms.BooleanField(label=GIVE_ANYWAY_LABEL, required=False)
    shown_warnings = ShownWarningsField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["observed_at"].label = gettext("Given at")
        self.fields[
            "observed_at"
        ].help_text = "When the dose was given — set it back for a late entry."
        self.fields["dose"].widget.attrs.update({"min": "0", "step": "any", "inputmode": "decimal"})
        self.order_fields(["drug", "drug_other", "dose", "dose_unit", "route", "observed_at"])

    def clean(self):
        data = super().clean()
        if data.get("drug") == Treatment.Drug.OTHER and not data.get("drug_other"):
            self.add_error("drug_other", "Name the drug.")
        if data.get("drug") != Treatment.Drug.OTHER:
            data["drug_other"] = ""
        if data.get("dose") is not None and data["dose"] <= 0:
            self.add_error("dose", "The dose must be more than 0.")
        return data

    def treatment_values(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in ("drug", "drug_other", "dose", "dose_unit", "route")
        }

    def accepted_warnings(self) -> list[str]:
        return self.cleaned_data["shown_warnings"] if self.cleaned_data["give_anyway"] else []
