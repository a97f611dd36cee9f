"""cartmonitor settings: one file, driven by the environment (see .env.example)."""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, *, default: bool) -> bool:
    """Read a strict boolean: only "true"/"false" (any case); anything else is a config error."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"true", "1", "yes"}:
        return True
    if value.lower() in {"false", "0", "no"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def env_int(name: str, *, default: int) -> int:
    """Read a whole number >= 0; anything else (e.g. "30m") is a config error, not a silent 0."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise ImproperlyConfigured(f"{name} must be 0 or more, got {number}")
    return number


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)
# Deploy runs `check --deploy --fail-level WARNING`, which rejects this default (W009).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-dev-only-" + "x" * 40)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "axes",
    "simple_history",
    "django_tasks",
    "django_tasks_db",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # CSP and Permissions-Policy on every response, static files included.
    "cartmonitor.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of each response: the browser's Accept-Language, else English;
    # UserLanguageMiddleware below replaces it with a logged-in user's own choice.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A patient or caregiver at home: only their course's home pages (404 elsewhere), and the
    # session ends at once when their access is revoked or the course ends.
    "cartmonitor.middleware.HomeSessionMiddleware",
    "cartmonitor.middleware.IdleSessionMiddleware",  # needs request.user; before the session save
    "cartmonitor.middleware.UserLanguageMiddleware",  # the language on the user's profile
    "django.contrib.messages.middleware.MessageMiddleware",
    # 400s for a non-UTF-8 body or a NUL in the address; admin list filters out of range.
    "cartmonitor.middleware.HostileRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # An expired session's htmx request (the board's refresh): HX-Redirect to the login page.
    "cartmonitor.middleware.HtmxLoginRedirectMiddleware",
    # A form sent by static/js/drafts.js: its redirect named in a header, not followed.
    "cartmonitor.middleware.FetchSubmitMiddleware",
    # Sent to the login page because the session expired: the login page says so.
    "cartmonitor.middleware.SessionEndedMiddleware",
    # Every page needs a login; views opt out explicitly (login, /healthz).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Records who made each change in the history tables (the audit trail).
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cartmonitor.urls"
WSGI_APPLICATION = "cartmonitor.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(  # postgres://user:pw@host:5432/cartmonitor
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent saves wait for the writer instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file, not Django's default shared-cache in-memory database: there, a second
    # writer fails at once with "database table is locked" (busy_timeout does not apply), so
    # concurrent saves could not be tested as production runs them. One file per test process
    # in the temp folder, so two test runs in one checkout never share a database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"cartmonitor-test-{os.getpid()}.sqlite3")
    }

# A read replica (README "Deploying"): a streaming replica of the primary for reads that need
# not be fresh to the second — exports, the registry and quality pages, the program page, which
# opt in (cartmonitor/db_router.py). Writes and every page a nurse acts on use the primary. In
# tests the replica mirrors the test database (TEST["MIRROR"]; see tests/conftest.py).
DATABASE_READ_REPLICA = None
if os.environ.get("DATABASE_REPLICA_URL", "").strip():
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"].strip(), conn_max_age=60, conn_health_checks=True
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_READ_REPLICA = "replica"
DATABASE_ROUTERS = ["cartmonitor.db_router.ReplicaRouter"]
# Behind PgBouncer in transaction pooling mode (README "Deploying"): a connection is the
# pooler's between transactions, so no server-side cursors (they outlive the transaction) and no
# persistent connections held by Django (the pooler keeps them).
if env_bool("DATABASE_TRANSACTION_POOLING", default=False):
    for _database in DATABASES.values():
        _database["DISABLE_SERVER_SIDE_CURSORS"] = True
        _database["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "monitoring.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "monitoring:home"
LOGOUT_REDIRECT_URL = "login"
# A form posted after the CSRF cookie changed (someone else logged in on this browser): our 403
# page, with the navigation, instead of Django's bare one.
CSRF_FAILURE_VIEW = "cartmonitor.errors.csrf_failure"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out user is refused before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Patients and caregivers at home, signed in by one-time codes (monitoring/home.py): loads
    # their access and course with the user. Authenticates nobody by password.
    "monitoring.access.HomeBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Translations (docs/translations.md): English is the source language; each user picks theirs
# on the profile (User.language), else the browser's Accept-Language decides. Dates and numbers
# follow the language; times stay in TIME_ZONE, the unit's zone, whatever the language.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our own date formats per language (cartmonitor/formats/<lang>/formats.py): 24-hour times in
# both, ISO dates in English, day first in Spanish.
FORMAT_MODULE_PATH = ["cartmonitor.formats"]
# Times are stored in UTC and shown in this zone (an IANA name such as Europe/Paris).
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# `make run` (DEBUG) serves the source folders; production serves collectstatic's output.
WHITENOISE_USE_FINDERS = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True

# HTTPS. Every switch is off by default, so `make run` (plain http on 127.0.0.1) and the test
# client work as they are; production sets them all (README "Deploying"), and the deploy step
# `check --deploy --fail-level WARNING` refuses to pass while any one is off (W004, W005, W008,
# W012, W016, W021). The check is the safety net for a forgotten variable.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# Load balancers probe the app servers over plain http: a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# TLS ends at the hospital's load balancer, which tells us the scheme in X-Forwarded-Proto. Trust
# that header only when a proxy that always sets it stands in front: from a client it is a lie.
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Idle timeout: a ward computer left logged in logs itself out. Activity slides the expiry, so
# only inactivity ends a session. Not SESSION_SAVE_EVERY_REQUEST: that rewrites the session row
# on every page (3 more queries each, and a database write per click on every app server);
# IdleSessionMiddleware rewrites it at most once a minute, so the timeout is 29-30 minutes.
SESSION_IDLE_MINUTES = env_int("DJANGO_SESSION_IDLE_MINUTES", default=30)
if SESSION_IDLE_MINUTES < 1:
    raise ImproperlyConfigured("DJANGO_SESSION_IDLE_MINUTES must be at least 1")
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# Patients and caregivers at home (issue 15) sign in with a one-time code on their own phone:
# their session lasts longer idle, so that an 8-hourly check-in does not need a new code each
# time; revoking their access still ends it at once (HomeSessionMiddleware).
HOME_SESSION_IDLE_HOURS = env_int("CARTMONITOR_HOME_SESSION_IDLE_HOURS", default=12)
if not 1 <= HOME_SESSION_IDLE_HOURS <= 14 * 24:
    raise ImproperlyConfigured("CARTMONITOR_HOME_SESSION_IDLE_HOURS must be 1 to 336")
# How long an invitation to home monitoring (its link and printed code) stays valid.
HOME_INVITATION_HOURS = env_int("CARTMONITOR_HOME_INVITATION_HOURS", default=72)
if not 1 <= HOME_INVITATION_HOURS <= 14 * 24:
    raise ImproperlyConfigured("CARTMONITOR_HOME_INVITATION_HOURS must be 1 to 336")

# Login lockout (django-axes): after this many wrong passwords for one username from one
# address, that pair is refused for the cool-off, even with the right password. Attempts are
# in the database, so the count is shared by every app server. Unlock early from the admin
# ("Access attempts") or with `manage.py axes_reset_username USERNAME`.
AXES_FAILURE_LIMIT = env_int("DJANGO_LOGIN_FAILURE_LIMIT", default=5)
if AXES_FAILURE_LIMIT < 1:  # 0 would lock every account before its first attempt
    raise ImproperlyConfigured("DJANGO_LOGIN_FAILURE_LIMIT must be at least 1")
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DJANGO_LOGIN_COOLOFF_MINUTES", default=15))
# Username and address together: an attacker elsewhere cannot lock a nurse out of her ward PC.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # two typos, then the right password: start again from zero
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "cartmonitor.middleware.client_ip"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# Audit trail: history rows are evidence, never a way to roll a record back.
SIMPLE_HISTORY_REVERT_DISABLED = True

# Background jobs (README "Jobs"): Django's Tasks API on the database. A job enqueued inside a
# transaction is a row written in that transaction, so a rolled-back save never pages anyone
# and a committed flag always does. `manage.py run_worker` runs them (N per machine in
# production; `make run` starts one beside the development server).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A worker beats every few seconds; one silent for this long is dead: the board and /healthz
# say escalations are delayed, and a job it had claimed goes back on the queue.
WORKER_STALE_SECONDS = env_int("CARTMONITOR_WORKER_STALE_SECONDS", default=90)
WORKER_HEARTBEAT_SECONDS = max(1, min(10, WORKER_STALE_SECONDS // 6))
# How often a worker sweeps for due escalations and overdue checks (a safety net under the
# deferred jobs: nothing is lost if a job was).
WORKER_SWEEP_SECONDS = env_int("CARTMONITOR_WORKER_SWEEP_SECONDS", default=15)

# Notifications (docs/notifications.md). The link in every message points here.
SITE_URL = os.environ.get("CARTMONITOR_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# FHIR export (docs/fhir.md). The namespace of this hospital's MRNs (Patient.identifier.system),
# e.g. urn:oid:1.2.3.4 or the URI the hospital's EHR uses: required outside DEBUG (the deploy
# check, monitoring/checks.py). The base of cartmonitor's own code systems and identifiers: this
# deployment's address unless set; every exported identifier starts with it, so once bundles
# have been sent it must never change (set it explicitly if the site address might).
CARTMONITOR_MRN_SYSTEM = os.environ.get("CARTMONITOR_MRN_SYSTEM", "").strip()
CARTMONITOR_FHIR_BASE = (
    os.environ.get("CARTMONITOR_FHIR_BASE", "").strip().rstrip("/") or f"{SITE_URL}/fhir"
)
# E-mail: Django's mail settings from the environment; the console backend (messages printed
# by the worker) unless an SMTP host is set.
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", default=587)
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", default=bool(EMAIL_HOST))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "cartmonitor@localhost")
# Web Push: VAPID keys (base64url, as `vapid --gen` or docs/notifications.md makes them).
VAPID_PUBLIC_KEY = os.environ.get("CARTMONITOR_VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = os.environ.get("CARTMONITOR_VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = os.environ.get("CARTMONITOR_VAPID_SUBJECT", "mailto:cartmonitor@localhost")
# The hospital's paging or secure-messaging gateway: each message is POSTed as JSON, signed
# with HMAC-SHA256 over "<timestamp>.<body>" with this secret.
WEBHOOK_URL = os.environ.get("CARTMONITOR_WEBHOOK_URL", "")
WEBHOOK_SECRET = os.environ.get("CARTMONITOR_WEBHOOK_SECRET", "")
if WEBHOOK_URL and not WEBHOOK_SECRET:
    raise ImproperlyConfigured("CARTMONITOR_WEBHOOK_URL needs CARTMONITOR_WEBHOOK_SECRET")
# Sending times out rather than holding a worker: the ladder must keep moving.
DELIVERY_TIMEOUT_SECONDS = 10
