"""Django admin for IT tasks: units, users, patients and courses. Clinical records are read-only."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from simple_history.admin import SimpleHistoryAdmin

from monitoring import products, services
from monitoring.forms.courses import PatientForm, ServiceChecksMixin
from monitoring.models import (
    AuditEvent,
    BaselineItem,
    BedsideCheck,
    CheckNotDone,
    CheckSchedule,
    CourseDose,
    CoursePhase,
    DoseStep,
    Flag,
    FlagAcknowledgement,
    FollowUpVisit,
    GradeConfirmation,
    GradeSnapshot,
    HandwritingSample,
    ImmunoglobulinDose,
    Infection,
    LabResult,
    NeuroAssessment,
    OnCallShift,
    Patient,
    ProphylaxisCourse,
    Protocol,
    ProtocolVersion,
    SymptomCheck,
    TherapyProduct,
    Treatment,
    TreatmentCourse,
    Unit,
    User,
    VitalSigns,
)
from monitoring.models.audit import changes_text


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    # The 24-hour number is what patients and caregivers at home are told to call (issue 15).
    list_display = ["name", "code", "contact_phone"]
    search_fields = ["name", "code"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "is_active", "units"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("cartmonitor", {"fields": ["role", "units"]}),
    ]
    add_fieldsets = [
        *BaseUserAdmin.add_fieldsets,
        ("cartmonitor", {"fields": ["role", "units"]}),
    ]
    filter_horizontal = ["units", "groups", "user_permissions"]


class NoDeleteAdmin(admin.ModelAdmin):
    """Clinical records are never deleted — not even by an administrator.

    Without the delete permission Django also drops the "delete selected" action and answers
    403 on the delete page.
    """

    def has_delete_permission(self, request, obj=None):
        return False


class HistoryAdmin(NoDeleteAdmin, SimpleHistoryAdmin):
    """Shows every saved version (simple-history), but never reverts to one.

    A revert saves an old row over the current one, outside the clinical write paths (no
    regrade, no audit event, and for a course a silent change of protocol version).
    """

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("Reverting to an old version is disabled.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class AuditedChangeAdmin(HistoryAdmin):
    """Edits made here (a name, an indication) go to the audit log, old → new. What grading,
    the schedule or the worklist read is read-only here and changed on the app's own pages,
    through the services that regrade (``clinical_fields``)."""

    clinical_fields: list[str] = []
    clinical_fields_on_add: list[str] = []  # set by the service that creates the row

    def get_readonly_fields(self, request, obj=None):
        return self.clinical_fields if obj is not None else self.clinical_fields_on_add

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            changes = {
                name: [str(form.initial.get(name)), str(form.cleaned_data.get(name))]
                for name in form.changed_data
            }
            course = obj if isinstance(obj, TreatmentCourse) else None
            services.audit(
                request.user,
                AuditEvent.Action.ADMIN_EDITED,
                course=course,
                patient=obj if isinstance(obj, Patient) else None,
                summary=f"{obj._meta.verbose_name.capitalize()} edited in the admin: "
                + changes_text(obj._meta.model_name, changes),
                details={"model": obj._meta.model_name, "pk": obj.pk, "changed": changes},
            )


class PatientAdminForm(ServiceChecksMixin, forms.ModelForm):
    checks = {
        "date_of_birth": services.check_date_of_birth,
        "weight_kg": services.check_weight,
    }

    class Meta:
        model = Patient
        fields = PatientForm.Meta.fields


@admin.register(Patient)
class PatientAdmin(AuditedChangeAdmin):
    form = PatientAdminForm
    list_display = ["mrn", "family_name", "given_name", "date_of_birth", "sex", "weight_kg"]
    search_fields = ["mrn", "family_name", "given_name"]
    # Corrected on the patient's course page (services.correct_patient_details): a new date of
    # birth regrades every course, and the audit keeps old and new.
    clinical_fields = ["date_of_birth", "weight_kg"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        patient = services.admit_patient(
            **{name: getattr(obj, name) for name in PatientForm._meta.fields}, by=request.user
        )
        obj.pk, obj.public_id = patient.pk, patient.public_id
        obj._state.adding = False


class TherapyProductAdminForm(forms.ModelForm):
    """The service's checks (products.check_product) said on the form, field by field."""

    label_url = forms.URLField(
        label="Label URL", max_length=500, required=False, assume_scheme="https"
    )

    class Meta:
        model = TherapyProduct
        fields = products.EDITABLE_FIELDS

    def clean(self):
        cleaned = super().clean()
        # The instance takes the posted values only after clean(): check them as they would
        # be saved.
        candidate = TherapyProduct(pk=self.instance.pk)
        for name in products.EDITABLE_FIELDS:
            setattr(candidate, name, cleaned.get(name, getattr(self.instance, name)))
        try:
            products.check_product(
                candidate, old_code=self.instance.code if self.instance.pk else None
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(TherapyProduct)
class TherapyProductAdmin(HistoryAdmin):
    """The product list (issue 14 §2): admins add and edit products and their label rules here;
    every save goes through products.save_product (validated, audited). Products are retired
    (``is_active``), never deleted: courses point at them."""

    form = TherapyProductAdminForm
    list_display = [
        "code",
        "name",
        "brand",
        "product_class",
        "target",
        "monitoring_window_hours",
        "label_version",
        "is_active",
    ]
    list_filter = ["product_class", "is_active"]
    search_fields = ["code", "name", "brand", "target"]
    fieldsets = [
        (None, {"fields": ["code", "name", "brand", "product_class", "target", "is_active"]}),
        (
            "The label's monitoring rules (the centre must check them against the current label)",
            {
                "fields": [
                    "hospitalisation_advice",
                    "step_up_schedule",
                    "monitoring_window_hours",
                    "label_document",
                    "label_version",
                    "label_url",
                    "label_note",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []

    def _admin_only(self, request) -> bool:
        # Only the admin role edits the list (User.can_manage_protocols), not any staff login.
        return bool(getattr(request.user, "can_manage_protocols", False))

    def has_add_permission(self, request):
        return self._admin_only(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._admin_only(request) and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        products.save_product(
            product=obj, by=request.user, changed=list(form.changed_data) if change else None
        )


class CourseAdminForm(forms.ModelForm):
    class Meta:
        model = TreatmentCourse
        fields = [
            "patient",
            "unit",
            "care_setting",
            "product",
            "product_other",
            "indication",
            "infused_at",
        ]

    def _post_clean(self):
        super()._post_clean()
        if self.instance.pk is None and "infused_at" not in self.errors:
            try:  # what services.start_course would refuse, said on the form
                services.check_new_course(self.instance)
            except ValidationError as error:
                self._update_errors(error)


@admin.register(TreatmentCourse)
class TreatmentCourseAdmin(AuditedChangeAdmin):
    form = CourseAdminForm
    list_display = ["patient", "product", "unit", "infused_at", "status", "protocol_version"]
    list_filter = ["status", "unit", "product__product_class", "product"]
    list_select_related = ["patient", "unit", "protocol_version__protocol", "product"]
    search_fields = ["patient__mrn", "patient__family_name"]
    autocomplete_fields = ["patient"]
    # A new course gets the newest active version for its product (services.start_course);
    # moving a course is explicit and audited, on /patients/<id>/protocol/. Day 0, the unit
    # and the end of monitoring change on the course page (views/courses.py), which regrades,
    # refreshes the status row and audits old → new.
    clinical_fields_on_add = [
        "protocol_version",
        "status",
        "monitoring_ended_at",
        "end_reason",
        "ended_by",
    ]
    # The care setting changes on the course page too (services.change_care_setting, audited).
    clinical_fields = [*clinical_fields_on_add, "infused_at", "unit", "care_setting"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            services.start_course(course=obj, by=request.user)


class ReadOnlyAdmin(NoDeleteAdmin):
    """Bedside records are written only through the check page, which grades them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyHistoryAdmin(ReadOnlyAdmin, HistoryAdmin):
    """Read-only, with the record's history."""


@admin.register(BedsideCheck)
class BedsideCheckAdmin(ReadOnlyHistoryAdmin):
    list_display = ["observed_at", "course", "setting", "recorded_by", "recorded_at"]
    list_filter = ["setting"]
    list_select_related = ["course__patient", "recorded_by"]
    date_hierarchy = "observed_at"


@admin.register(Flag)
class FlagAdmin(ReadOnlyHistoryAdmin):
    list_display = ["raised_at", "course", "kind", "severity", "status", "message"]
    list_filter = ["status", "severity", "kind"]
    list_select_related = ["course__patient"]


@admin.register(FlagAcknowledgement)
class FlagAcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ["acknowledged_at", "flag", "acknowledged_by", "note"]
    list_select_related = ["flag", "acknowledged_by"]


class ObservationAdmin(ReadOnlyHistoryAdmin):
    """Clinical records, read-only: corrections go through the amend / entered-in-error pages."""

    list_display = ["__str__", "patient", "status", "recorded_by", "recorded_at"]
    list_filter = ["status"]
    list_select_related = ["check_entry__course__patient", "recorded_by"]
    search_fields = ["check_entry__course__patient__mrn"]

    @admin.display(description="patient", ordering="check_entry__course__patient__family_name")
    def patient(self, obj):
        return obj.check_entry.course.patient


for observation in (VitalSigns, SymptomCheck, NeuroAssessment, LabResult, Treatment):
    admin.site.register(observation, ObservationAdmin)


class InfectionRecordAdmin(ReadOnlyHistoryAdmin):
    """Infection prevention records, read-only: written through monitoring/infection.py."""

    list_display = ["__str__", "course", "status", "recorded_by", "recorded_at"]
    list_filter = ["status"]
    list_select_related = ["course__patient", "recorded_by"]
    search_fields = ["course__patient__mrn"]


for infection_record in (ProphylaxisCourse, ImmunoglobulinDose, Infection):
    admin.site.register(infection_record, InfectionRecordAdmin)


@admin.register(GradeSnapshot)
class GradeSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["observed_at", "course", "crs_grade", "icans_grade", "rule_version"]
    list_select_related = ["course__patient"]


@admin.register(GradeConfirmation)
class GradeConfirmationAdmin(ReadOnlyAdmin):
    list_display = [
        "confirmed_at",
        "domain",
        "computed_grade",
        "confirmed_grade",
        "confirmed_by",
        "reason",
    ]
    list_select_related = ["confirmed_by"]


@admin.register(CheckNotDone)
class CheckNotDoneAdmin(ReadOnlyHistoryAdmin):
    list_display = ["observed_at", "course", "check_type", "reason", "note", "recorded_by"]
    list_select_related = ["course__patient", "recorded_by"]


@admin.register(HandwritingSample)
class HandwritingSampleAdmin(ReadOnlyAdmin):
    """The rows without their pictures: those are seen on the course page, through its access
    check (monitoring/views/handwriting.py); an error mark goes through its page there."""

    list_display = ["taken_at", "course", "kind", "source", "status", "recorded_by"]
    list_filter = ["kind", "status"]
    list_select_related = ["course__patient", "recorded_by"]
    exclude = ["image_png"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("image_png")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log page (/audit/) has the filters; this is the raw table, read-only."""

    list_display = ["at", "user", "action", "patient", "summary"]
    list_filter = ["action"]
    list_select_related = ["user", "patient"]
    search_fields = ["patient__mrn", "summary"]


class CheckScheduleInline(admin.TabularInline):
    model = CheckSchedule
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Protocol)
class ProtocolAdmin(ReadOnlyHistoryAdmin):
    """Protocols are edited on /protocols/, where editing a used version makes a new one."""

    list_display = ["name", "created_at"]


@admin.register(ProtocolVersion)
class ProtocolVersionAdmin(ReadOnlyHistoryAdmin):
    list_display = ["__str__", "is_active", "is_template", "created_at", "change_note"]
    list_select_related = ["protocol"]
    inlines = [CheckScheduleInline]


@admin.register(CheckSchedule)
class CheckScheduleAdmin(ReadOnlyHistoryAdmin):
    list_display = ["version", "check_type", "interval_minutes", "tightened_interval_minutes"]
    list_select_related = ["version__protocol"]


@admin.register(OnCallShift)
class OnCallShiftAdmin(ReadOnlyAdmin):
    """The rota, read-only: it is edited on /rota/ (services.add_on_call_shift and
    end_on_call_shift validate and audit every change), and a shift is ended, never deleted."""

    list_display = ["unit", "tier", "user", "starts_at", "ends_at", "created_by", "created_at"]
    list_filter = ["unit", "tier"]
    list_select_related = ["unit", "user", "created_by"]
    search_fields = ["user__username", "user__last_name", "unit__name"]
    date_hierarchy = "starts_at"


# Step-up dosing: read-only here. Dose steps are edited on the protocol page (validated and
# versioned by services.revise_protocol); doses change only through monitoring.dosing.
@admin.register(DoseStep)
class DoseStepAdmin(ReadOnlyHistoryAdmin):
    list_display = ["version", "sequence", "label", "day_offset", "dose_text", "window_hours"]
    list_select_related = ["version__protocol"]


@admin.register(CourseDose)
class CourseDoseAdmin(ReadOnlyHistoryAdmin):
    list_display = ["course", "step", "attempt", "planned_at", "status", "given_at", "given_by"]
    list_filter = ["status"]
    list_select_related = ["course__patient", "step", "given_by"]


class JourneyRecordAdmin(ReadOnlyHistoryAdmin):
    """The treatment journey's records (phases, baseline items, follow-up visits), read-only:
    written through monitoring/journey.py, where a correction supersedes a row (kept, marked
    amended, with who, when and why) instead of changing it."""

    list_display = ["__str__", "course", "status", "recorded_by", "recorded_at", "reason"]
    list_filter = ["status"]
    list_select_related = ["course__patient", "course__product", "recorded_by"]
    search_fields = ["course__patient__mrn"]


@admin.register(CoursePhase)
class CoursePhaseAdmin(JourneyRecordAdmin):
    list_filter = ["status", "phase"]


@admin.register(BaselineItem)
class BaselineItemAdmin(JourneyRecordAdmin):
    list_filter = ["status", "item"]


@admin.register(FollowUpVisit)
class FollowUpVisitAdmin(JourneyRecordAdmin):
    pass
