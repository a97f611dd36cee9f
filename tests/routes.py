"""Every page of the URLconf with sample arguments, for tests that walk them all."""

from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from monitoring import alert_rules, handwriting, services
from monitoring.demo.handwriting import demo_png
from monitoring.models import Flag, OnCallShift
from tests.factories import ROOM_AIR, tell

# Pages that answer without a login: the load balancers' health check, and the push service
# worker's script (no data; the browser fetches it to install the worker).
PUBLIC_PAGES = {"healthz", "service-worker"}
# The home sign-in pages (issue 15): signing in, an invitation and its consent, the page that
# says an access ended, signing out. No patient data on any of them.
HOME_PUBLIC_PAGES = {
    "home-login",
    "home-login-code",
    "home-join",
    "home-join-link",
    "home-consent",
    "home-ended",
    "home-logout",
}
# The pages of someone signed in at home: their home page, recording a check-in, sending a
# handwriting sample, and choosing the language.
HOME_SIGNED_IN_PAGES = {
    "home-start",
    "home-checkin",
    "home-checkin-done",
    "home-handwriting-new",
    "home-language",
}


def monitoring_routes() -> list[URLPattern]:
    routes = [p for p in get_resolver("monitoring.urls").url_patterns if isinstance(p, URLPattern)]
    assert len(routes) > 20  # the walk found the URLconf
    return routes


def route_sample(course, by) -> dict:
    """One of each object a URL names, on the course's unit: a check with its vital signs, a
    flag, the course's protocol version, a notification (to ``by``), a shift of the unit's
    on-call rota."""
    check = services.record_check(
        course=course,
        by=by,
        observed_at=timezone.now(),
        vitals={"temp_c": 37, **ROOM_AIR},
    )
    flag = Flag.objects.create(
        course=course, kind=Flag.Kind.CRS, severity=Flag.Severity.URGENT, message="CRS grade 2"
    )
    notification = tell(by, course, flag=flag)
    # A baseline handwriting sample (one that raises no flag of its own).
    written = handwriting.record_sample(
        course=course,
        kind="baseline",
        source="drawn",
        image=demo_png(),
        taken_at=timezone.now(),
        by=by,
    )
    shift = OnCallShift.objects.create(
        unit=course.unit, tier=alert_rules.CHARGE_NURSE, user=by, starts_at=timezone.now()
    )
    return {
        "shift_id": shift.pk,
        "public_id": course.patient.public_id,
        "notification_id": notification.pk,
        "check_id": check.public_id,
        "flag_id": flag.pk,
        "kind": "vitals",
        "record_pk": check.vitalsigns_set.get().pk,
        "version_pk": course.protocol_version_id,
        "day": course.day_number(check.observed_at),  # the day of the check (course_day)
        "chart": "temperature",  # a chart's table of values (course_chart_table)
        "token": "no-such-invitation-token",  # an invitation link's (home-join-link)
        "sample_id": written.public_id,  # a handwriting sample's
    }


def url_of(route: URLPattern, sample: dict) -> str:
    """The route's URL with the sample's objects (NoReverseMatch for an argument it lacks)."""
    names = set(route.pattern.converters)
    kwargs = {}
    for name in names:
        if name == "pk":  # a record's (with its kind) or a protocol version's
            kwargs[name] = sample["record_pk" if "kind" in names else "version_pk"]
        else:
            kwargs[name] = sample[name]
    return reverse(f"monitoring:{route.name}", kwargs=kwargs)
