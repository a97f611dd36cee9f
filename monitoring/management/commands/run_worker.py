"""Run a job worker: escalations, overdue checks and notification delivery (README "Jobs").

    python manage.py run_worker            # one worker; run N of these (systemd, README)

It is django-tasks-db's ``db_worker`` loop plus, in a thread of this process, the worker's
beat (``monitoring.worker.beat``): a heartbeat, jobs of dead workers put back on the queue,
and the sweep for due escalations and overdue checks.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from monitoring import delivery
from monitoring import worker as duties

logger = logging.getLogger("monitoring.worker")


class Command(BaseCommand):
    help = "Run a cartmonitor job worker (escalations, overdue checks, notifications)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between looks for a job."
        )
        parser.add_argument(
            "--worker-id", default="", help="Unique across the pool (default: random)."
        )

    def handle(self, *, interval: float, worker_id: str, verbosity: int, **options):
        worker_id = worker_id or f"w-{get_random_string(20)}"
        logging.getLogger("django_tasks_db").setLevel(logging.INFO)
        delivery.WORKER_ID = worker_id  # each delivery attempt records who tried
        # Beat once before claiming anything, so no job of ours ever looks orphaned.
        duties.beat(worker_id, sweep=False)
        stop = threading.Event()
        beats = threading.Thread(
            target=self.beat_forever, args=(worker_id, stop), name="beat", daemon=True
        )
        beats.start()
        self.stdout.write(f"cartmonitor worker {worker_id} started")
        worker = Worker(
            queue_names=["*"],
            interval=interval,
            batch=False,
            backend_name="default",
            startup_delay=True,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        try:
            worker.run()
        finally:
            stop.set()

    def beat_forever(self, worker_id: str, stop: threading.Event) -> None:
        last_sweep = 0.0
        while not stop.is_set():
            try:
                sweep = time.monotonic() - last_sweep >= settings.WORKER_SWEEP_SECONDS
                done = duties.beat(worker_id, sweep=sweep)
                if sweep:
                    last_sweep = time.monotonic()
                if any(done.values()):
                    logger.info("beat: %s", done)
            except Exception:  # a database blip must not stop the heartbeat for good
                logger.exception("worker beat failed")
            finally:
                close_old_connections()
            stop.wait(settings.WORKER_HEARTBEAT_SECONDS)
        connection.close()
