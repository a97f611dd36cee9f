from django.urls import path, register_converter

from monitoring.views import (
    audit,
    care_team,
    common,
    corrections,
    courses,
    dosing,
    exports,
    handwriting,
    home,
    home_access,
    home_checkins,
    infection,
    journey,
    nurse,
    profile,
    protocols,
    quality,
    remote,
    rota,
    wall,
)

app_name = "monitoring"


class DayConverter:
    """D+n of a course: a day number, negative for a baseline day before day 0."""

    regex = "-?[0-9]{1,4}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(DayConverter, "day")

urlpatterns = [
    path("", common.home, name="home"),
    path("healthz", common.healthz, name="healthz"),
    # Push service worker: served from the root so that its scope is the whole site
    path("sw.js", profile.service_worker, name="service-worker"),
    # Nurse: worklist, bedside check, result
    path("worklist/", nurse.worklist, name="nurse-worklist"),
    path("patients/<uuid:public_id>/", common.patient_course, name="patient-course"),
    path("patients/<uuid:public_id>/days/<day:day>/", care_team.course_day, name="course-day"),
    # The course page's charts: their points as JSON, each one's values as a table
    path("patients/<uuid:public_id>/charts/", care_team.course_charts, name="course-charts"),
    path(
        "patients/<uuid:public_id>/charts/<slug:chart>/",
        care_team.course_chart_table,
        name="course-chart-table",
    ),
    path("patients/<uuid:public_id>/check/", nurse.record_check, name="nurse-check"),
    path(
        "patients/<uuid:public_id>/check/support/",
        nurse.check_support,
        name="nurse-check-support",
    ),
    path(
        "patients/<uuid:public_id>/checks/<uuid:check_id>/",
        nurse.check_result,
        name="nurse-check-result",
    ),
    # Care team and admins: a course's life (admit, start, transfer, end, corrections)
    path("courses/new/", courses.start_course, name="course-start"),
    path("patients/<uuid:public_id>/end/", courses.end_monitoring, name="course-end"),
    path("patients/<uuid:public_id>/transfer/", courses.transfer_course, name="course-transfer"),
    path(
        "patients/<uuid:public_id>/care-setting/",
        courses.change_care_setting,
        name="course-care-setting",
    ),
    path(
        "patients/<uuid:public_id>/infusion/",
        courses.correct_infusion_time,
        name="course-infusion",
    ),
    path(
        "patients/<uuid:public_id>/details/",
        courses.correct_patient_details,
        name="patient-details",
    ),
    # The treatment journey: register for therapy, phases, baseline, infusion, visits, program
    path("program/", journey.program, name="program"),
    # Home monitoring: who is at home, their last check-in and the check-ins missed
    path("remote/", remote.remote_patients, name="remote-patients"),
    path("program/register/", journey.register, name="journey-register"),
    path("patients/<uuid:public_id>/phases/", journey.record_phase, name="journey-phase"),
    path("patients/<uuid:public_id>/baseline/", journey.record_baseline, name="journey-baseline"),
    path(
        "patients/<uuid:public_id>/infusion-given/",
        journey.start_monitoring,
        name="journey-infusion",
    ),
    path(
        "patients/<uuid:public_id>/planned-day0/",
        journey.move_planned_infusion,
        name="journey-move-day0",
    ),
    path(
        "patients/<uuid:public_id>/visits/<int:day>/",
        journey.record_visit,
        name="journey-visit",
    ),
    path(
        "patients/<uuid:public_id>/visits/<int:day>/missed/",
        journey.record_missed_visit,
        name="journey-visit-missed",
    ),
    path("patients/<uuid:public_id>/journey/end/", journey.end_journey, name="journey-end"),
    path(
        "protocols/versions/<int:pk>/journey/",
        journey.journey_settings,
        name="admin-protocol-version-journey",
    ),
    # Care team: the board (one row per patient), grade confirmation, treatments
    path("flags/", care_team.flag_board, name="care-flags"),
    path(
        "flags/<int:flag_id>/acknowledge/", care_team.flag_acknowledge, name="care-flag-acknowledge"
    ),
    path("flags/<int:flag_id>/resolve/", care_team.flag_resolve, name="care-flag-resolve"),
    path("flags/patients/<uuid:public_id>/", care_team.patient_flags, name="care-patient-flags"),
    path(
        "flags/patients/<uuid:public_id>/acknowledge/",
        care_team.patient_acknowledge,
        name="care-patient-acknowledge",
    ),
    path(
        "patients/<uuid:public_id>/grades/confirm/",
        care_team.confirm_grade,
        name="care-grade-confirm",
    ),
    path("patients/<uuid:public_id>/treatments/", care_team.treatments, name="patient-treatments"),
    # Step-up dosing of T-cell engagers: plan, re-plan, hold, give, restart
    path("patients/<uuid:public_id>/dosing/", dosing.course_dosing, name="course-dosing"),
    # Care team: infection prevention (prophylaxis, immunoglobulin replacement, infections)
    path(
        "patients/<uuid:public_id>/infection/",
        infection.infection_care,
        name="patient-infection",
    ),
    # Protocols, corrections, checks not done, audit log
    path("protocols/", protocols.protocol_list, name="admin-protocols"),
    path("protocols/versions/<int:pk>/", protocols.protocol_version, name="admin-protocol-version"),
    path(
        "protocols/versions/<int:pk>/edit/",
        protocols.protocol_version_edit,
        name="admin-protocol-version-edit",
    ),
    path(
        "protocols/versions/<int:pk>/move-courses/",
        protocols.move_courses,
        name="protocol-version-move-courses",
    ),
    path("patients/<uuid:public_id>/protocol/", protocols.course_protocol, name="course-protocol"),
    path("patients/<uuid:public_id>/not-done/", corrections.check_not_done, name="nurse-not-done"),
    path("records/<slug:kind>/<int:pk>/amend/", corrections.amend_record, name="record-amend"),
    path(
        "records/<slug:kind>/<int:pk>/error/",
        corrections.mark_entered_in_error,
        name="record-error",
    ),
    path(
        "records/<slug:kind>/<int:pk>/history/", corrections.record_history, name="record-history"
    ),
    path("audit/", audit.audit_log, name="admin-audit-log"),
    # The on-call rota; the programme's quality measures
    path("rota/", rota.rota, name="rota"),
    path("rota/add/", rota.rota_add, name="rota-add"),
    path("rota/shifts/<int:shift_id>/end/", rota.rota_end, name="rota-end"),
    path("quality/", quality.quality_page, name="quality"),
    path("quality.csv", quality.quality_csv, name="quality-csv"),
    # Exports: registry CSV, FHIR, handover
    path("patients/<uuid:public_id>/summary/", exports.patient_summary, name="patient-summary"),
    path("patients/<uuid:public_id>/fhir/", exports.fhir_bundle, name="patient-fhir"),
    path("exports/registry/", exports.registry_form, name="exports-registry"),
    path("exports/registry.csv", exports.registry_csv, name="exports-registry-csv"),
    path("handover/", exports.handover, name="handover"),
    path("handover/notes/<uuid:public_id>/", exports.handover_note, name="handover-note"),
    # Everyone's own: notification centre and profile (channels, push browsers, a test)
    path("notifications/", profile.notification_list, name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        profile.notification_read,
        name="notification-read",
    ),
    path("notifications/read-all/", profile.notifications_read_all, name="notifications-read-all"),
    path("profile/", profile.profile, name="profile"),
    path("profile/test/", profile.profile_test, name="profile-test"),
    path("profile/language/", profile.profile_language, name="profile-language"),
    path("profile/push/", profile.push_subscribe, name="profile-push"),
    path("profile/push/remove/", profile.push_remove, name="profile-push-remove"),
    # A shared wall screen's own login: the read-only board of its units, without identifiers
    path("display/", wall.wall_display, name="wall-display"),
    # Home monitoring (issue 15): the care team's page of a course's home accounts, and the
    # pages of a patient or caregiver at home (sign-in, invitation and consent, the home page).
    # No home address carries an id or patient data; an invitation link carries its token.
    path(
        "patients/<uuid:public_id>/home-access/",
        home_access.manage,
        name="course-home-access",
    ),
    path(
        "patients/<uuid:public_id>/handwriting/new/",
        handwriting.staff_new,
        name="handwriting-new",
    ),
    path(
        "patients/<uuid:public_id>/handwriting/<uuid:sample_id>/image/",
        handwriting.image,
        name="handwriting-image",
    ),
    path(
        "patients/<uuid:public_id>/handwriting/<uuid:sample_id>/error/",
        handwriting.entered_in_error,
        name="handwriting-error",
    ),
    path("home/", home.start, name="home-start"),
    path("home/handwriting/new/", handwriting.home_new, name="home-handwriting-new"),
    path("home/login/", home.sign_in, name="home-login"),
    path("home/login/code/", home.sign_in_code, name="home-login-code"),
    path("home/join/", home.join, name="home-join"),
    path("home/join/consent/", home.consent, name="home-consent"),
    path("home/join/<slug:token>/", home.join_link, name="home-join-link"),
    path("home/check-in/", home_checkins.checkin, name="home-checkin"),
    path("home/check-in/done/", home_checkins.checkin_done, name="home-checkin-done"),
    path("home/ended/", home.ended, name="home-ended"),
    path("home/logout/", home.sign_out, name="home-logout"),
    path("home/language/", home.language, name="home-language"),
]
