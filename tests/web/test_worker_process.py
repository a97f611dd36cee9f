"""The worker as production runs it: `manage.py run_worker` processes, against this test
database (SQLite file or PostgreSQL), killed with SIGKILL in the middle of a job.

A worker that dies holding a job (killed, out of memory, its machine lost) must not lose the
notification, and the one that takes over must not make a second one: the dead worker's claimed
job goes back on the queue once its heartbeat is stale, and is run again with the same delivery
key, which the receiving gateway uses to drop the repeat.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from monitoring import notify
from monitoring.models import (
    Delivery,
    DeliveryAttempt,
    Notification,
    Protocol,
    ProtocolVersion,
    WorkerHeartbeat,
)
from tests.factories import CourseFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-webhook-secret"


class Gateway(BaseHTTPRequestHandler):
    """A paging gateway: the first page hangs (the worker is killed meanwhile), later ones
    are answered at once. It remembers every request's idempotency key."""

    received: list[str] = []
    first_arrived = threading.Event()
    release = threading.Event()

    def do_POST(self):  # noqa: N802 — http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(self.headers["Idempotency-Key"])
        if not self.first_arrived.is_set():
            self.first_arrived.set()
            self.release.wait(30)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(name: str, gateway: str, *, extra_env: dict | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CARTMONITOR_WEBHOOK_URL": gateway,
        "CARTMONITOR_WEBHOOK_SECRET": SECRET,
        "CARTMONITOR_WORKER_STALE_SECONDS": "3",
        "CARTMONITOR_WORKER_SWEEP_SECONDS": "1",
        "DJANGO_DEBUG": "false",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--worker-id", name, "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def gateway():
    Gateway.received = []
    Gateway.first_arrived.clear()
    Gateway.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/page"
    Gateway.release.set()
    server.shutdown()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_loses_nothing_and_the_page_is_delivered_once(ward_a, gateway):
    doctor = UserFactory(role="care_team", units=[ward_a], notify_by_webhook=True, pager_id="4471")
    # One page and nothing else: a protocol that asks for no prophylaxis gives the workers'
    # infection sweep (worker.beat) no "prophylaxis not started" flag to page anybody about.
    version = ProtocolVersion.objects.create(
        protocol=Protocol.objects.create(name="No prophylaxis"), prophylaxis=[]
    )
    course = CourseFactory(unit=ward_a, protocol_version=version)
    [notification] = notify.notify(
        [doctor],
        key="test-kill",
        course=course,
        severity=4,
        reason=Notification.Reason.FLAG,
        title=notify.title(course, "critical flag"),
        body="",
    )
    delivery = notification.deliveries.get()

    first = start_worker("worker-a", gateway)
    try:
        assert Gateway.first_arrived.wait(30), "the first worker never sent the page"
        first.send_signal(signal.SIGKILL)  # mid-job: the page is out, nothing recorded
        first.wait(10)
        job = DBTaskResult.objects.get()
        assert (job.status, job.worker_ids) == ("RUNNING", ["worker-a"])
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PENDING

        second = start_worker("worker-b", gateway)
        try:
            wait_for(
                lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENT,
                60,
                "the second worker to deliver the page",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()

    job.refresh_from_db()
    assert job.status == "SUCCESSFUL"
    assert job.worker_ids == ["worker-a", "worker-b"]  # taken over, not duplicated
    assert Notification.objects.count() == 1
    assert DBTaskResult.objects.count() == 1
    # The gateway saw the page twice with one key: it delivers it once (docs/notifications.md).
    assert Gateway.received == [delivery.key, delivery.key]
    assert len(set(Gateway.received)) == 1
    assert [a.ok for a in DeliveryAttempt.objects.filter(delivery=delivery)] == [True]
    assert set(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == {
        "worker-a",
        "worker-b",
    }
    assert json.loads(json.dumps(job.return_value)) == "sent"


class MailServer(threading.Thread):
    """A minimal SMTP server on loopback: it accepts every message and keeps its text."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.messages: list[str] = []

    def run(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 test\r\n")
            while line := reader.readline():
                command = line.decode().strip().upper()
                if command.startswith(("EHLO", "HELO")):
                    conn.sendall(b"250 test\r\n")
                elif command == "DATA":
                    conn.sendall(b"354 go\r\n")
                    lines = []
                    while (text := reader.readline()) not in (b".\r\n", b""):
                        lines.append(text.decode())
                    self.messages.append("".join(lines))
                    conn.sendall(b"250 ok\r\n")
                elif command == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")


@pytest.mark.django_db(transaction=True)
def test_two_real_workers_remind_a_missed_home_check_in_once_and_flag_it_once(ward_a):
    """The beat's home sweep in two `run_worker` processes at once: one e-mail (through SMTP),
    one flag, one due row."""
    from django.utils import timezone

    from monitoring.models import Flag, HomeCheckInDue
    from tests.home_helpers import make_home_user

    carer = UserFactory(role="care_team", units=[ward_a])
    version = ProtocolVersion.objects.create(
        protocol=Protocol.objects.create(name="Home 8-hourly"), prophylaxis=[]
    )
    course = CourseFactory(unit=ward_a, protocol_version=version)
    make_home_user(course, carer, email="sam@example.org", now=timezone.now() - timedelta(hours=10))
    mail_server = MailServer()
    mail_server.start()
    smtp = {
        "DJANGO_EMAIL_HOST": "127.0.0.1",
        "DJANGO_EMAIL_PORT": str(mail_server.port),
        "DJANGO_EMAIL_USE_TLS": "false",
    }
    workers = [start_worker(name, "", extra_env=smtp) for name in ("home-a", "home-b")]
    try:
        wait_for(lambda: len(mail_server.messages) >= 1, 60, "the reminder e-mail")
        wait_for(
            lambda: Flag.objects.filter(course=course, kind="home_missed").exists(),
            60,
            "the missed check-in flag",
        )
        time.sleep(3)  # several more beats of both workers
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            process.wait(10)
        mail_server.sock.close()

    assert len(mail_server.messages) == 1
    assert "You have a check-in due" in mail_server.messages[0]
    assert course.patient.family_name not in mail_server.messages[0]
    assert Flag.objects.filter(course=course, kind="home_missed").count() == 1
    assert HomeCheckInDue.objects.filter(course=course).count() == 1
