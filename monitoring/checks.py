"""cartmonitor's own deploy checks (`manage.py check --deploy`, README "Deploying").

They run only with ``--deploy`` and only outside DEBUG, so `make run` and the tests keep their
development defaults; `make check-deploy` (warnings are errors there) refuses a production
environment that would send FHIR bundles a receiving system cannot trust (docs/fhir.md).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register

# Hosts that are nobody's real address: loopback, and the names RFC 2606/6761 reserve.
RESERVED_TLDS = {"example", "invalid", "localhost", "test", "local"}
LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def is_absolute_uri(value: str) -> bool:
    """An identifier namespace FHIR accepts: an http(s) URL with a host, or a urn:oid/urn:uuid."""
    if value.startswith(("urn:oid:", "urn:uuid:")):
        return len(value.split(":", 2)[2]) > 0
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def is_real_https_base(value: str) -> bool:
    """An https URL on a host that someone can own (not loopback, not a reserved name)."""
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    return (
        parts.scheme == "https"
        and bool(host)
        and host not in LOOPBACK
        and host.rsplit(".", 1)[-1] not in RESERVED_TLDS
    )


@register(Tags.security, deploy=True)
def check_fhir_export(app_configs=None, **kwargs) -> list:
    if settings.DEBUG:
        return []
    errors = []
    mrn_system = settings.CARTMONITOR_MRN_SYSTEM
    if not mrn_system:
        errors.append(
            Error(
                "CARTMONITOR_MRN_SYSTEM is not set: FHIR bundles would carry the MRN without "
                "the hospital's identifier system, and a receiving EHR could match it to the "
                "wrong patient.",
                hint="Set it to the namespace of the hospital's MRNs, e.g. urn:oid:<OID> or "
                "the identifier system URI your EHR uses (README 'Deploying').",
                id="cartmonitor.E001",
            )
        )
    elif not is_absolute_uri(mrn_system):
        errors.append(
            Error(
                f"CARTMONITOR_MRN_SYSTEM is {mrn_system!r}, not an absolute URI.",
                hint="Use urn:oid:<OID>, urn:uuid:<UUID> or an http(s) URL.",
                id="cartmonitor.E002",
            )
        )
    base = settings.CARTMONITOR_FHIR_BASE
    if not is_real_https_base(base):
        errors.append(
            Error(
                f"The FHIR base {base!r} is not an https address of this hospital: every code "
                "system and identifier cartmonitor exports starts with it.",
                hint="Set CARTMONITOR_FHIR_BASE (or CARTMONITOR_SITE_URL, which it defaults "
                "from) to the https address, and never change it once bundles were sent.",
                id="cartmonitor.E003",
            )
        )
    return errors
