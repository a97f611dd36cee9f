"""The demo's home monitoring (issue 15): the outpatient CAR-T course gets a caregiver who
signs in from home, through the real write paths (an invitation, accepted with consent).

``make run`` prints how to sign in as the caregiver: the address below on /home/login/; the
e-mailed code prints in the terminal (Django's console e-mail backend, the default without an
SMTP host). The demo units get a (fictional) 24-hour number to show on the home page.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from monitoring import home, home_checkins
from monitoring.models import CareSetting, HomeAccess, TreatmentCourse, Unit, User
from monitoring.models.home_checkins import SCREEN_ITEMS

CAREGIVER_EMAIL = "caregiver@demo.invalid"
CAREGIVER_USERNAME = "demo-caregiver"
CAREGIVER_NAME = "Sam (partner)"
# Fictional numbers (the 555-01xx range kept for fiction), one per demo unit.
UNIT_PHONE = "+1 202 555 01{:02d}"
# The caregiver joined home monitoring a day ago (the check-ins below follow).
HOME_SINCE = timedelta(days=1)


def ensure_demo_caregiver(*, units: list[Unit], by: User, mrn_prefix: str) -> bool:
    """Give the demo units a 24-hour number and the outpatient demo course its caregiver;
    nothing when they have them already (or no demo course is an outpatient). True if the
    caregiver was made now."""
    for index, unit in enumerate(units):
        if not unit.contact_phone:
            unit.contact_phone = UNIT_PHONE.format(index % 100)
            unit.save(update_fields=["contact_phone"])
    if HomeAccess.objects.filter(user__username=CAREGIVER_USERNAME).exists():
        return False
    course = (
        TreatmentCourse.objects.under_monitoring()
        .filter(patient__mrn__startswith=mrn_prefix, care_setting=CareSetting.OUTPATIENT)
        .order_by("patient__mrn")
        .first()
    )
    if course is None:
        return False
    new = home.invite(
        course=course,
        kind="caregiver",
        display_name=CAREGIVER_NAME,
        email=CAREGIVER_EMAIL,
        by=by,
    )
    now = timezone.now()
    caregiver = home.accept_invitation(
        invitation=new.invitation,
        language="en",
        ip="demo",
        username=CAREGIVER_USERNAME,
        now=max(now - HOME_SINCE, course.infused_at),
    )
    record_demo_checkins(caregiver)
    return True


# The caregiver's check-ins of the demo (hours ago, what was typed): an ordinary morning
# reading, then one in °F with a headache — neither calls the team; the next is due.
DEMO_CHECKINS = [
    (9, {"temperature": Decimal("36.9"), "temperature_unit": "c", "no_symptoms": True}),
    (
        1,
        {
            "temperature": Decimal("99.1"),
            "temperature_unit": "f",
            "symptoms": ["headache"],
            "sbp_mmhg": 124,
            "dbp_mmhg": 78,
            "heart_rate_bpm": 88,
            "screen": dict.fromkeys(SCREEN_ITEMS, True),
        },
    ),
]


def record_demo_checkins(caregiver: User) -> None:
    """Two check-ins from home by the demo caregiver, through the real write path (graded by
    the engine like any check); none before day 0."""
    access = caregiver.home_access
    now = timezone.now()
    for hours_ago, values in DEMO_CHECKINS:
        at = now - timedelta(hours=hours_ago)
        if at > access.course.infused_at:
            home_checkins.record_home_checkin(access=access, by=caregiver, now=at, **values)


def caregiver_login_text() -> str:
    """What `seed_demo` (and so `make run`) prints: how to sign in as the caregiver."""
    access = (
        HomeAccess.objects.filter(user__username=CAREGIVER_USERNAME, revoked_at__isnull=True)
        .select_related("course__patient")
        .first()
    )
    if access is None or not access.is_open:
        return ""
    return (
        f"Caregiver at home ({access.display_name}, outpatient {access.course.patient.mrn}): "
        f"open /home/login/ and enter {CAREGIVER_EMAIL}; the sign-in code prints here "
        f"(console e-mail). Or, as demo-care, open the patient's Home access page and give a "
        f"code in person. Codes work for {home.CODE_MINUTES} minutes."
    )
