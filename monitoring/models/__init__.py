"""cartmonitor's data model, one module per part of the domain (explicit re-exports)."""

from monitoring.models.alerts import (
    BoardVisit,
    Delivery,
    DeliveryAttempt,
    EscalationStep,
    Notification,
    OnCallShift,
    OverdueAlert,
    PushSubscription,
    WorkerHeartbeat,
)
from monitoring.models.audit import AuditEvent, CheckNotDone, HandoverNote
from monitoring.models.courses import (
    BedsideCheck,
    CareSetting,
    CheckSetting,
    CourseStatus,
    TreatmentCourse,
    TreatmentCourseQuerySet,
)
from monitoring.models.dosing import CourseDose, DoseStep
from monitoring.models.grades import (
    Flag,
    FlagAcknowledgement,
    FlagQuerySet,
    GradeConfirmation,
    GradeSnapshot,
)
from monitoring.models.home import (
    HOME_SLOTS,
    HomeAccess,
    HomeInvitation,
    HomeKind,
    HomeLoginCode,
    HomeSignInAttempt,
)
from monitoring.models.home_checkins import HomeCheckIn, HomeNeuroScreen
from monitoring.models.infection import ImmunoglobulinDose, Infection, ProphylaxisCourse
from monitoring.models.journey import BaselineItem, CoursePhase, FollowUpVisit, Phase
from monitoring.models.observations import (
    CAPD_ITEM_FIELDS,
    ICE_ITEM_FIELDS,
    LAB_RANGES,
    VITAL_RANGES,
    LabResult,
    NeuroAssessment,
    Observation,
    SymptomCheck,
    Treatment,
    VitalSigns,
)
from monitoring.models.people import HOME_ROLES, Patient, Unit, User
from monitoring.models.products import TherapyProduct, TherapyProductQuerySet
from monitoring.models.protocols import CheckSchedule, CheckType, Protocol, ProtocolVersion
from monitoring.models.records import (
    AmendableRecord,
    CurrentRecord,
    RecordQuerySet,
    RecordStatus,
)

__all__ = [
    "HOME_ROLES",
    "HOME_SLOTS",
    "HomeAccess",
    "HomeCheckIn",
    "HomeNeuroScreen",
    "HomeInvitation",
    "HomeKind",
    "HomeLoginCode",
    "HomeSignInAttempt",
    "AmendableRecord",
    "CurrentRecord",
    "RecordQuerySet",
    "CAPD_ITEM_FIELDS",
    "ICE_ITEM_FIELDS",
    "LAB_RANGES",
    "VITAL_RANGES",
    "AuditEvent",
    "BaselineItem",
    "BedsideCheck",
    "CareSetting",
    "CheckSetting",
    "BoardVisit",
    "Delivery",
    "DeliveryAttempt",
    "EscalationStep",
    "Notification",
    "OnCallShift",
    "OverdueAlert",
    "PushSubscription",
    "WorkerHeartbeat",
    "CheckNotDone",
    "CheckSchedule",
    "CheckType",
    "CourseDose",
    "CoursePhase",
    "CourseStatus",
    "DoseStep",
    "Flag",
    "FlagAcknowledgement",
    "FlagQuerySet",
    "FollowUpVisit",
    "GradeConfirmation",
    "GradeSnapshot",
    "HandoverNote",
    "ImmunoglobulinDose",
    "Infection",
    "LabResult",
    "NeuroAssessment",
    "Observation",
    "Patient",
    "ProphylaxisCourse",
    "Phase",
    "Protocol",
    "ProtocolVersion",
    "RecordStatus",
    "SymptomCheck",
    "TherapyProduct",
    "TherapyProductQuerySet",
    "Treatment",
    "TreatmentCourse",
    "TreatmentCourseQuerySet",
    "Unit",
    "User",
    "VitalSigns",
]
