"""Named actors: a nurse on ward A, a care-team member on ward A, an outsider nurse on ward B,
and an admin. Tests read as sentences about them."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import translation

from monitoring.models import User
from tests.factories import CourseFactory, UnitFactory, UserFactory

# A read replica in every run (cartmonitor/db_router.py): an alias that mirrors the test
# database (Django's TEST["MIRROR"]: no database of its own, the same rows), unless
# DATABASE_REPLICA_URL already made one. Reads go to it only in tests that ask (the
# ``read_replica`` fixture, tests/web/test_replica.py); everywhere else every read is on the
# primary, as in a deployment without a replica.
django_settings.DATABASES.setdefault(
    "replica",
    {
        **django_settings.DATABASES["default"],
        "TEST": {**django_settings.DATABASES["default"].get("TEST", {}), "MIRROR": "default"},
    },
)


@pytest.fixture(autouse=True)
def _fast_and_static(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests render templates without running collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.DATABASE_READ_REPLICA = None  # the primary only; ``read_replica`` turns it on


@pytest.fixture
def read_replica(settings):
    """Views that opt in read from the ``replica`` alias (a mirror of the test database). Its
    own connection sees only committed rows: use with django_db(transaction=True)."""
    settings.DATABASE_READ_REPLICA = "replica"
    return "replica"


@pytest.fixture(autouse=True)
def _english_between_tests():
    """A Spanish request leaves Spanish active on the worker's thread (LocaleMiddleware does not
    switch back): each test starts and ends in the default language, whatever ran before it."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def ward_a(db):
    return UnitFactory(name="Ward A", code="ward-a")


@pytest.fixture
def ward_b(db):
    return UnitFactory(name="Ward B", code="ward-b")


@pytest.fixture
def nurse(ward_a):
    return UserFactory(username="nina", role=User.Role.NURSE, units=[ward_a])


@pytest.fixture
def care_team_member(ward_a):
    return UserFactory(username="carl", role=User.Role.CARE_TEAM, units=[ward_a])


@pytest.fixture
def outsider(ward_b):
    """Charlie nurses on ward B and must never see ward A's patients."""
    return UserFactory(username="charlie", role=User.Role.NURSE, units=[ward_b])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", role=User.Role.ADMIN, is_staff=True)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def nurse_client(nurse):
    return _client_for(nurse)


@pytest.fixture
def care_client(care_team_member):
    return _client_for(care_team_member)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture
def admin_client_(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def course(ward_a):
    """An adult on ward A, infused three days ago (D+3)."""
    return CourseFactory(unit=ward_a, patient__given_name="Ada", patient__family_name="Lovelace")
