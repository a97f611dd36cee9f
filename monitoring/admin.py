"""Django admin for IT tasks: units, users, patients and courses. Clinical records are read-only."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from monitoring.models import (
    BedsideCheck,
    Flag,
    Patient,
    TreatmentCourse,
    Unit,
    User,
)


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
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
    """Clinical records are never deleted — not even by an administrator."""

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Patient)
class PatientAdmin(NoDeleteAdmin):
    list_display = ["mrn", "family_name", "given_name", "date_of_birth", "sex", "weight_kg"]
    search_fields = ["mrn", "family_name", "given_name"]


@admin.register(TreatmentCourse)
class TreatmentCourseAdmin(NoDeleteAdmin):
    list_display = ["patient", "product", "unit", "infused_at", "status"]
    list_filter = ["status", "unit", "product"]
    list_select_related = ["patient", "unit"]
    search_fields = ["patient__mrn", "patient__family_name"]
    autocomplete_fields = ["patient"]


class ReadOnlyAdmin(NoDeleteAdmin):
    """Bedside records are written only through the check page, which grades them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BedsideCheck)
class BedsideCheckAdmin(ReadOnlyAdmin):
    list_display = ["observed_at", "course", "recorded_by", "recorded_at"]
    list_select_related = ["course__patient", "recorded_by"]
    date_hierarchy = "observed_at"


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin):
    list_display = ["raised_at", "course", "kind", "severity", "status", "message"]
    list_filter = ["status", "severity", "kind"]
    list_select_related = ["course__patient"]
