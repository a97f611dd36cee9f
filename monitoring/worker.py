"""The job worker's own duties besides running jobs: a heartbeat, the sweep for due escalations
and overdue checks, and putting back on the queue a job whose worker died holding it.

``manage.py run_worker`` runs django-tasks-db's worker loop (jobs claimed with
``SELECT … FOR UPDATE SKIP LOCKED``: any number of workers on any number of machines) and, in
a thread of that worker process, ``beat()`` every few seconds. Never in a web process.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from monitoring import escalation, home_sweep, infection, schedule
from monitoring.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# Prophylaxis falls due by the calendar (a start day reached): days, not seconds, so the
# infection sweep runs at most this often per worker process.
INFECTION_SWEEP_EVERY = timedelta(minutes=10)
_last_infection_sweep: datetime | None = None

# Finished job rows are kept this long for inspection (the admin lists them), then pruned.
KEEP_FINISHED_JOBS = timedelta(days=7)


def stale_after() -> timedelta:
    return timedelta(seconds=settings.WORKER_STALE_SECONDS)


def heartbeat(worker_id: str, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"hostname": socket.gethostname()[:200], "pid": os.getpid(), "seen_at": now},
        create_defaults={
            "hostname": socket.gethostname()[:200],
            "pid": os.getpid(),
            "started_at": now,
            "seen_at": now,
        },
    )


def last_seen() -> datetime | None:
    """When any worker last beat (None: no worker has ever run)."""
    beat = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    return beat


def delay(*, now: datetime | None = None) -> timedelta | None:
    """How long escalations have been delayed for want of a worker: None while one beats."""
    now = now or timezone.now()
    seen = last_seen()
    if seen is not None and now - seen <= stale_after():
        return None
    return now - seen if seen is not None else timedelta.max


def delay_text(delay: timedelta) -> str:
    """ "escalations delayed: no worker seen for 12 min" — what the board and /healthz say."""
    if delay == timedelta.max:
        return "escalations delayed: no job worker has run yet"
    return f"escalations delayed: no worker seen for {schedule.human_duration(delay)}"


def requeue_orphans(*, now: datetime | None = None) -> int:
    """Put back on the queue every job claimed by a worker that stopped beating (killed,
    out of memory, its machine lost). Jobs here are idempotent, so running one again is safe."""
    now = now or timezone.now()
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gt=now - stale_after()).values_list(
            "worker_id", flat=True
        )
    )
    requeued = 0
    with transaction.atomic():
        running = DBTaskResult.objects.running().select_for_update(skip_locked=True)
        for job in running:
            if job.worker_ids and job.worker_ids[-1] in alive:
                continue
            job.status = "READY"
            job.started_at = None
            job.save(update_fields=["status", "started_at"])
            requeued += 1
            logger.warning("job %s (%s) requeued: its worker stopped", job.pk, job.task_path)
    return requeued


def prune(*, now: datetime | None = None) -> None:
    now = now or timezone.now()
    DBTaskResult.objects.finished().filter(finished_at__lt=now - KEEP_FINISHED_JOBS).delete()
    WorkerHeartbeat.objects.filter(seen_at__lt=now - KEEP_FINISHED_JOBS).delete()


def beat(worker_id: str, *, now: datetime | None = None, sweep: bool = True) -> dict:
    """One beat: say we are alive, requeue orphaned jobs, and (every sweep interval) sweep."""
    heartbeat(worker_id, now=now)
    done = {"requeued": requeue_orphans(now=now)}
    if sweep:
        done |= escalation.sweep(now=now)
        done["infection"] = sweep_infection(now=now)
        done |= home_sweep.sweep(now=now)
        prune(now=now)
    return done


def sweep_infection(*, now: datetime | None = None) -> int:
    """``infection.sweep`` at most every INFECTION_SWEEP_EVERY in this process."""
    global _last_infection_sweep
    now = now or timezone.now()
    if _last_infection_sweep is not None and (
        timedelta(0) <= now - _last_infection_sweep < INFECTION_SWEEP_EVERY
    ):
        return 0
    _last_infection_sweep = now
    return infection.sweep(now=now)
