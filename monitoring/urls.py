from django.urls import path

from monitoring.views import common, nurse

app_name = "monitoring"

urlpatterns = [
    path("", common.home, name="home"),
    path("healthz", common.healthz, name="healthz"),
    # Nurse: worklist, bedside check, result
    path("worklist/", nurse.worklist, name="nurse-worklist"),
    path("patients/<uuid:public_id>/", common.patient_course, name="patient-course"),
    path("patients/<uuid:public_id>/check/", nurse.record_check, name="nurse-check"),
    path("patients/<uuid:public_id>/checks/<uuid:check_id>/", nurse.check_result,
         name="nurse-check-result"),
    # Care team: flag board, grade confirmation, treatments
    # Protocols, corrections, checks not done, audit log
    # Exports: registry CSV, FHIR, handover
]
