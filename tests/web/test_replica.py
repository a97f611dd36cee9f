"""Issue 16 §3: reads that need not be fresh to the second — exports, the registry and quality
pages, the program page — go to the read replica when one is configured; every write, and
every page a nurse acts on, uses the primary (cartmonitor/db_router.py).

The replica here is Django's test mirror of the primary (tests/conftest.py): the same rows on a
connection of its own, so each query shows which database it went to. A mirror's connection
sees only committed rows, hence transactional tests. Runs on SQLite and PostgreSQL alike."""

import re

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cartmonitor.db_router import ReplicaRouter, replica_alias, replica_reads
from monitoring.models import AuditEvent, TreatmentCourse
from tests.factories import full_check

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


class Queries:
    """The SQL each database ran during a block."""

    def __enter__(self):
        self._primary = CaptureQueriesContext(connections["default"])
        self._replica = CaptureQueriesContext(connections["replica"])
        self._primary.__enter__()
        self._replica.__enter__()
        return self

    def __exit__(self, *exc):
        self._replica.__exit__(*exc)
        self._primary.__exit__(*exc)

    @property
    def primary(self) -> list[str]:
        return [q["sql"] for q in self._primary.captured_queries]

    @property
    def replica(self) -> list[str]:
        return [q["sql"] for q in self._replica.captured_queries]


def _touching(queries: list[str], table: str) -> list[str]:
    return [sql for sql in queries if table in sql]


def _get(client, url, **params):
    with Queries() as queries:
        response = client.get(url, params)
    assert response.status_code == 200, url
    return response, queries


REPORTING_PAGES = [
    "monitoring:exports-registry",
    "monitoring:exports-registry-csv",
    "monitoring:quality",
    "monitoring:quality-csv",
    "monitoring:program",
]
COURSE_EXPORTS = ["monitoring:patient-summary", "monitoring:patient-fhir"]
# One transactional test a group: each flushes every table after it (seconds on SQLite).
REPLICA = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@REPLICA
def test_exports_and_reporting_pages_read_patient_data_from_the_replica(
    read_replica, care_client, course
):
    urls = [reverse(name) for name in REPORTING_PAGES]
    urls += [reverse(name, args=[course.patient.public_id]) for name in COURSE_EXPORTS]
    for url in urls:
        response, queries = _get(care_client, url)

        assert _touching(queries.replica, "monitoring_treatmentcourse"), url
        # The user's units and the courses are read on the replica, never on the primary.
        assert not _touching(queries.primary, "monitoring_user_units"), url
        assert not _touching(queries.primary, "monitoring_treatmentcourse"), url
        assert not [sql for sql in queries.replica if WRITE.match(sql)], url


@REPLICA
def test_an_exports_audit_line_is_written_on_the_primary_and_the_rows_are_the_same(
    settings, read_replica, care_client, course
):
    on_replica, queries = _get(care_client, reverse("monitoring:exports-registry-csv"))

    assert [sql for sql in queries.primary if sql.startswith("INSERT") and "auditevent" in sql]
    assert not [sql for sql in queries.replica if WRITE.match(sql)]
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.course == course
    assert str(course.patient.mrn) in on_replica.content.decode()

    settings.DATABASE_READ_REPLICA = None
    on_primary, queries = _get(care_client, reverse("monitoring:exports-registry-csv"))
    assert queries.replica == []
    assert on_replica.content.decode().splitlines() == on_primary.content.decode().splitlines()


def _nurse_pages(course) -> list[str]:
    patient = course.patient.public_id
    return [
        reverse("monitoring:nurse-worklist"),
        reverse("monitoring:patient-course", args=[patient]),
        reverse("monitoring:nurse-check", args=[patient]),
        reverse("monitoring:handover"),
        reverse("monitoring:care-flags"),
    ]


@REPLICA
def test_pages_a_nurse_acts_on_and_saving_a_check_use_only_the_primary(
    read_replica, nurse_client, course
):
    for url in _nurse_pages(course):
        response, queries = _get(nurse_client, url)
        assert queries.primary, url
        assert queries.replica == [], url

    url = reverse("monitoring:nurse-check", args=[course.patient.public_id])
    with Queries() as queries:
        response = nurse_client.post(url, full_check())
    assert response.status_code == 302
    assert queries.replica == []
    assert [sql for sql in queries.primary if sql.startswith("INSERT")]


def test_without_a_replica_the_reporting_pages_read_the_primary(care_client, course):
    # The replica is not among this test's databases: a query sent there would fail the test.
    for name in REPORTING_PAGES:
        with CaptureQueriesContext(connections["default"]) as primary:
            response = care_client.get(reverse(name))
        assert response.status_code == 200, name
        assert _touching([q["sql"] for q in primary.captured_queries], "treatmentcourse"), name


@REPLICA
def test_writes_and_reads_inside_a_transaction_use_the_primary(read_replica, course):
    router = ReplicaRouter()
    assert replica_alias() is None  # outside an opted-in view or block
    assert TreatmentCourse.objects.get(pk=course.pk)._state.db == "default"
    with replica_reads():
        assert router.db_for_read(TreatmentCourse) == "replica"
        assert router.db_for_write(TreatmentCourse) == "default"
        loaded = TreatmentCourse.objects.get(pk=course.pk)
        assert loaded._state.db == "replica"
        with Queries() as queries:
            loaded.save(update_fields=["status"])
        assert queries.replica == []
        assert [sql for sql in queries.primary if sql.startswith("UPDATE")]
        # A service reading before it writes sees the primary's rows, never an older copy.
        with transaction.atomic():
            assert replica_alias() is None
            assert TreatmentCourse.objects.get(pk=course.pk)._state.db == "default"
        assert replica_alias() == "replica"


def test_the_replica_is_never_migrated(settings):
    settings.DATABASE_READ_REPLICA = "replica"
    router = ReplicaRouter()
    assert router.allow_migrate("replica", "monitoring") is False
    assert router.allow_migrate("default", "monitoring") is None
