"""Hostile and broken input: no page ever answers 500, a check is saved whole or not at all,
CSRF is enforced, and reading a page never changes data.

Property tests (hypothesis) post text, numbers, unicode and huge values into the real forms.
hypothesis runs many examples inside one test, so function-scoped fixtures (the database
transaction, the nurse, the course) are shared by all of a test's examples: each example
therefore compares row counts before and after itself instead of assuming an empty database.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from monitoring import services
from monitoring.models import BedsideCheck, CourseStatus, Flag, GradeSnapshot
from tests.factories import full_check

# Each example is a full request (~30 queries for a save): a modest number keeps this fast.
# No example database: it would write .hypothesis/ into the work tree.
web_examples = hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_url(course) -> str:
    return reverse("monitoring:nurse-check", args=[course.patient.public_id])


def valid_check() -> dict:
    """A complete adult check, as the page posts it, with an empty free-text field to fuzz."""
    return full_check(**{"symptoms-other": ""})


FIELDS = sorted(
    [
        *valid_check(),
        "vitals-vasopressin",
        "neuro-unable_to_assess",
        "neuro-unable_to_assess_reason",
        "neuro-capd_item_1",
        "labs-il6_pg_ml",
        "labs-fibrinogen_mg_dl",
        "treatment-drug_other",
    ]
)
# Printable and unprintable unicode, but no lone surrogates: those cannot be encoded into a
# request at all, so no browser can send them.
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
HOSTILE = st.one_of(
    ANY_TEXT,
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats().map(str),  # "nan", "inf", "-0.0", "1e+300"
    st.decimals().map(str),  # "sNaN", "-Infinity", "1E+999"
    st.sampled_from(
        [
            "",
            " ",
            "-0",
            "0x1F",
            "1e999",
            "38,5",  # decimal comma
            "１２３",  # full-width digits
            "٣٨٫٥",  # Arabic-Indic digits and separator
            "²",
            "NaN",
            "Infinity",
            "\x00",
            "<script>alert(1)</script>",
            "' OR '1'='1",
            "2026-02-30T10:00",
            "9999-12-31T23:59",
            "0001-01-01T00:00",
            "9" * 5000,  # beyond Python's 4300-digit int() limit
            "Ÿ" * 2000,
        ]
    ),
)


def is_signalling_nan(value: str) -> bool:
    try:
        return Decimal(value.strip()).is_snan()
    except ArithmeticError:  # not a number at all
        return False


def row_counts() -> dict[str, int]:
    """Rows of every monitoring table: 'nothing saved' must hold for tables added later too."""
    return {
        model.__name__: model.objects.count()
        for model in apps.get_app_config("monitoring").get_models()
    }


def assert_status_row_is_consistent(course) -> None:
    """The worklist's denormalised row agrees with the records it summarises."""
    status = CourseStatus.objects.get(course=course)
    latest = GradeSnapshot.objects.filter(course=course).order_by("-observed_at", "-pk").first()
    assert status.last_check_at == latest.observed_at
    assert status.crs_grade == latest.crs_grade
    assert status.open_flag_count == Flag.objects.unresolved().filter(course=course).count()


def test_the_untouched_check_saves(nurse_client, course):
    # Guards the property below: if the field names drifted from the form, every example would
    # be refused and the property would pass without testing anything.
    assert nurse_client.post(check_url(course), valid_check()).status_code == 302


@web_examples
@given(
    changes=st.dictionaries(st.sampled_from(FIELDS), HOSTILE, min_size=1, max_size=4),
    removed=st.sets(st.sampled_from(FIELDS), max_size=3),
)
def test_any_check_input_saves_a_whole_check_or_nothing_never_a_500(
    nurse_client, course, changes, removed
):
    data = {k: v for k, v in valid_check().items() if k not in removed} | changes
    if any(is_signalling_nan(value) for value in changes.values()):
        event("skipped: known bug, see test_a_signalling_nan_oxygen_flow_is_refused_not_a_500")
        return
    before = row_counts()

    nurse_client.raise_request_exception = False  # see a 500 as a response, with its input
    response = nurse_client.post(check_url(course), data)

    after = row_counts()
    assert response.status_code in (302, 400), data
    if response.status_code == 302:
        event("saved")
        assert after["BedsideCheck"] == before["BedsideCheck"] + 1
        assert after["GradeSnapshot"] == before["GradeSnapshot"] + 1
        check = BedsideCheck.objects.filter(course=course).latest("recorded_at")
        assert response.url.endswith(f"/checks/{check.public_id}/")
        assert_status_row_is_consistent(course)
    else:
        event("refused")
        assert after == before, "a refused check must leave no row behind"
        page = response.content.decode()
        assert "Nothing was saved." in page
        assert response.context["page"].summary(), "a refusal must say what is wrong"


def test_a_signalling_nan_oxygen_flow_is_refused_not_a_500(nurse_client, course):
    # The flow carries forward from this first check, so the form has an initial Decimal.
    assert nurse_client.post(check_url(course), valid_check()).status_code == 302
    nurse_client.raise_request_exception = False
    before = row_counts()

    response = nurse_client.post(
        check_url(course), valid_check() | {"vitals-oxygen_flow_l_min": "sNaN"}
    )

    # strict: when the form is fixed this passes, and the xfail marker must go.
    assert response.status_code == 400
    assert row_counts() == before


def test_posted_markup_is_shown_back_escaped_not_run(nurse_client, course):
    attack = "<script>alert(1)</script>"
    data = valid_check() | {"symptoms-other": attack, "vitals-temperature": "99"}

    response = nurse_client.post(check_url(course), data)

    assert response.status_code == 400  # 99 °C is refused, so the page is shown back
    page = response.content.decode()
    assert attack not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({f"field{n}": "x" for n in range(1100)}, "more than DATA_UPLOAD_MAX_NUMBER_FIELDS"),
        ({"symptoms-other": "x" * 3_000_000}, "more than DATA_UPLOAD_MAX_MEMORY_SIZE"),
    ],
    ids=["too-many-fields", "too-large"],
)
def test_an_oversized_post_is_refused_with_400_and_saves_nothing(nurse_client, course, data, why):
    nurse_client.raise_request_exception = False
    before = row_counts()

    response = nurse_client.post(check_url(course), data)

    assert response.status_code == 400, why
    assert row_counts() == before


# --- The worklist's query string -------------------------------------------------------------

QUERY_VALUE = st.one_of(
    ANY_TEXT, st.integers().map(str), st.sampled_from(["", "0", "-1", "1.0", "last", "9" * 30])
)


@web_examples
@given(unit=QUERY_VALUE, page=QUERY_VALUE)
def test_any_worklist_unit_or_page_parameter_never_gives_a_500(nurse_client, ward_a, unit, page):
    nurse_client.raise_request_exception = False

    response = nurse_client.get(reverse("monitoring:nurse-worklist"), {"unit": unit, "page": page})

    # 404: a unit number that is not one of the nurse's units; 400: a NUL byte in the address
    # (cartmonitor.middleware refuses it before any view).
    assert response.status_code in (200, 400, 404), (unit, page)
    event(f"status {response.status_code}")


@pytest.mark.parametrize(
    "unit", ["²", "٣", "9" * 5000], ids=["superscript-two", "arabic-three", "5000-digits"]
)
def test_a_digit_like_unit_that_int_refuses_is_not_a_500(nurse_client, ward_a, unit):
    # str.isdigit() accepts these but int() refuses them (or, for "٣", reads 3): the view
    # once checked isdigit() and then called int(), a 500.
    nurse_client.raise_request_exception = False

    response = nurse_client.get(reverse("monitoring:nurse-worklist"), {"unit": unit})

    assert response.status_code in (200, 404)


# --- CSRF ------------------------------------------------------------------------------------


def test_a_check_posted_without_the_csrf_token_is_refused(nurse, course):
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    before = row_counts()

    response = client.post(check_url(course), valid_check())

    assert response.status_code == 403
    assert row_counts() == before


def test_a_check_posted_with_the_pages_csrf_token_is_saved(nurse, course):
    # The counterpart of the test above: the 403 there is CSRF, not something else.
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    token = client.get(check_url(course)).context["csrf_token"]

    response = client.post(check_url(course), valid_check() | {"csrfmiddlewaretoken": token})

    assert response.status_code == 302


def test_login_and_logout_need_the_csrf_token(nurse):
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("login"), {"username": "x", "password": "y"}).status_code == 403

    client.force_login(nurse)
    assert client.post(reverse("logout")).status_code == 403
    assert "_auth_user_id" in client.session  # still logged in


# --- Reading never writes --------------------------------------------------------------------


def every_row() -> dict[str, list[dict]]:
    """Every column of every row, so an UPDATE shows as well as an INSERT or DELETE.

    Sessions are left out: an active session's expiry slides by design (settings.py).
    """
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model is not Session
    }


def test_get_requests_never_change_data(nurse, nurse_client, admin_user, course, ward_a):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=1),
        vitals={"temp_c": 38.9, "oxygen_support": "room_air", "vasopressors_count": 0},
    )
    admin_user.is_superuser = True
    admin_user.save()
    admin = Client()
    admin.force_login(admin_user)
    pid = course.patient.public_id
    nurse_pages = [
        "/",
        reverse("monitoring:nurse-worklist"),
        reverse("monitoring:nurse-worklist") + f"?unit={ward_a.pk}&page=2",
        reverse("monitoring:patient-course", args=[pid]),
        reverse("monitoring:nurse-check", args=[pid]),
        reverse("monitoring:nurse-check-support", args=[pid]) + "?observed_at=2026-01-01T06:00",
        reverse("monitoring:nurse-check-result", args=[pid, check.public_id]),
        "/healthz",
        reverse("login"),
    ]
    admin_pages = [
        "/admin/",
        "/admin/monitoring/user/",
        f"/admin/monitoring/user/{nurse.pk}/change/",
    ]
    before = every_row()

    for url in nurse_pages:
        assert nurse_client.get(url).status_code in (200, 302), url
    for url in admin_pages:
        assert admin.get(url).status_code == 200, url

    assert every_row() == before
