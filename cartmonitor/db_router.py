"""A read replica for reads that need not be fresh to the second (README "Deploying").

With ``DATABASE_REPLICA_URL`` set, settings add a ``replica`` database (a streaming replica of
the primary) and name it in ``DATABASE_READ_REPLICA``. Nothing goes there by guess: a view
opts in with ``@replica_reads()`` (or a block with ``with replica_reads():``), and only these
do: the exports (registry CSV, FHIR bundle, a course's registry summary), the quality page and
its CSV, and the program page — lists and aggregates for people planning and reporting, where a
figure a second old is still right.

Everything else reads the primary: every page a nurse acts on (worklist, check, course page,
board, handover), every write (``db_for_write`` is always the primary, so is a row read on the
replica and then saved), and every read inside a transaction on the primary — a service that
reads before it writes, or an audit line written by an export, never sees the replica's older
copy. The user and session are loaded by the middleware before the view, from the primary;
inside an opted-in view the user's units are read on the replica like the rest (a unit taken
from someone reaches these read-only pages after the replica's delay, typically under a
second).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

# Set while an opted-in view (or block) runs; per thread and per task, like the request.
_replica_wanted = contextvars.ContextVar("cartmonitor_replica_reads", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads in this block (or view, as ``@replica_reads()``) may come from the read replica,
    when one is configured; writes and reads inside a transaction still use the primary."""
    token = _replica_wanted.set(True)
    try:
        yield
    finally:
        _replica_wanted.reset(token)


def replica_alias() -> str | None:
    """The replica reads go to now, or None for the primary."""
    alias = getattr(settings, "DATABASE_READ_REPLICA", None)
    if not alias or not _replica_wanted.get():
        return None
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return None  # reading before writing: the primary's current rows
    return alias


class ReplicaRouter:
    """``settings.DATABASE_ROUTERS``: the replica only for ``replica_reads`` reads."""

    def db_for_read(self, model, **hints):
        return replica_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The replica follows the primary's schema by replication; never migrated itself.
        return False if db == getattr(settings, "DATABASE_READ_REPLICA", None) else None
