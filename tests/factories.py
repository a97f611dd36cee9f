"""Tiny deterministic factories: sequences for identity, fixed clinical values."""

import time
import uuid
from datetime import date, timedelta

import factory
from django.utils import timezone

from cartmonitor.middleware import IdleSessionMiddleware
from monitoring import notify
from monitoring.models import (
    CourseStatus,
    Flag,
    Notification,
    Patient,
    TherapyProduct,
    TreatmentCourse,
    Unit,
    User,
)
from monitoring.products import ensure_shipped_products
from monitoring.services import protocol_version_for, refresh_flag_leads


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit
        django_get_or_create = ["code"]

    name = factory.Sequence(lambda n: f"Ward {n}")
    code = factory.Sequence(lambda n: f"w{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    role = User.Role.NURSE

    @factory.post_generation
    def units(self, create, extracted, **kwargs):
        if create and extracted:
            self.units.set(extracted)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    given_name = factory.Sequence(lambda n: f"Given{n}")
    family_name = factory.Sequence(lambda n: f"Family{n}")
    date_of_birth = date(1970, 5, 17)
    sex = Patient.Sex.FEMALE
    weight_kg = 70


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TreatmentCourse

    patient = factory.SubFactory(PatientFactory)
    unit = factory.SubFactory(UnitFactory)
    # A code ("teclistamab") or a TherapyProduct; the shipped rows are made if a flush of a
    # transactional test removed them (migration 0015 seeds them once).
    product = "axi-cel"
    indication = "Relapsed large B-cell lymphoma"
    infused_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    # The shipped default protocol (migration 0002), as services.start_course would pick it.
    protocol_version = factory.LazyAttribute(
        lambda course: protocol_version_for(getattr(course.product, "code", course.product))
    )

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        if isinstance(kwargs.get("product"), str):
            kwargs["product"] = therapy_product(kwargs["product"])
        return kwargs


def therapy_product(code: str) -> TherapyProduct:
    """The product with this code (a shipped one is created if missing)."""
    product = TherapyProduct.objects.filter(code=code).first()
    if product is None:
        ensure_shipped_products()
        product = TherapyProduct.objects.get(code=code)
    return product


# Service inputs (services.record_check) that many tests share.
ROOM_AIR = {"oxygen_support": "room_air", "vasopressors_count": 0, "vasopressin": False}
ICE_10 = {  # a normal ICE screen: 10/10, alert, no seizure, weakness or oedema
    "ice_orientation": 4,
    "ice_naming": 3,
    "ice_commands": 1,
    "ice_writing": 1,
    "ice_attention": 1,
    "consciousness": "alert",
    "seizure": "none",
    "motor_weakness": "none",
    "cerebral_edema": "none",
}


def active_now(client) -> None:
    """Mark the client's session active now, as its last request would have.

    A query-count pin after a slow setup needs this: filling a course can take over a minute
    on a loaded machine, and the first request after a minute of quiet re-saves the session
    (3 queries, cartmonitor.middleware.IdleSessionMiddleware) — a cost of the idle pause, not
    of the page being pinned. Call it right before ``django_assert_num_queries``.
    """
    session = client.session
    session[IdleSessionMiddleware.STAMP] = int(time.time())
    session.save()


def keep_flag_leads(course) -> None:
    """Flags written straight to the table (a test setting up flags as they stand) reach the
    course's status row as every write path leaves them: the board orders on its leads."""
    refresh_flag_leads(CourseStatus.objects.get_or_create(course=course)[0])


def local_input(at):
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


def full_check(**overrides):
    """A complete adult check: fever 38.6 °C on nasal cannula 4 L/min, ICE 10, labs, tocilizumab."""
    data = {
        "observed_at": local_input(timezone.now() - timedelta(minutes=5)),
        "vitals-temperature": "38.6",
        "vitals-temperature_unit": "C",
        "vitals-heart_rate_bpm": "112",
        "vitals-resp_rate_per_min": "22",
        "vitals-sbp_mmhg": "104",
        "vitals-dbp_mmhg": "62",
        "vitals-spo2_pct": "95",
        "vitals-oxygen_support": "low_flow",
        "vitals-oxygen_flow_l_min": "4",
        "vitals-vasopressors_count": "0",
        "symptoms-fever": "on",
        "symptoms-fatigue": "on",
        "symptoms-headache": "on",
        "neuro-ice_orientation": "4",
        "neuro-ice_naming": "3",
        "neuro-ice_commands": "1",
        "neuro-ice_writing": "1",
        "neuro-ice_attention": "1",
        "neuro-consciousness": "alert",
        "neuro-seizure": "none",
        "neuro-motor_weakness": "none",
        "neuro-cerebral_edema": "none",
        "labs-crp_mg_l": "85",
        "labs-ferritin_ng_ml": "1450",
        "treatment-drug": "antipyretic",
        "treatment-dose": "1000",
        "treatment-dose_unit": "mg",
        "treatment-route": "po",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def tell(user, course, *, flag=None, severity=Flag.Severity.URGENT, what="flag", key=None, at=None):
    """Notify ``user`` about a flag on ``course`` (its open CRS flag unless given) as the
    escalation ladder would (notify.notify, the minimum-necessary title, the patient named in the
    in-app body), on the channels they chose."""
    flag = (
        flag
        or Flag.objects.get_or_create(
            course=course,
            kind=Flag.Kind.CRS,
            status=Flag.Status.OPEN,
            defaults={"severity": severity, "message": "CRS grade 2"},
        )[0]
    )
    (notification,) = notify.notify(
        [user],
        key=key or f"test-flag{flag.pk}-{uuid.uuid4().hex}",
        course=course,
        flag=flag,
        severity=severity,
        reason=Notification.Reason.FLAG,
        tier="bedside_nurse",
        title=notify.title(course, f"{Flag.Severity(severity).label.lower()} {what}"),
        body=f"{course.patient.full_name} ({notify.where(course)}): {flag.message}",
        now=at,
    )
    return notification
