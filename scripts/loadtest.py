"""A bounded mixed load on cartmonitor under gunicorn on loopback (README "Performance").

    .venv/bin/python scripts/loadtest.py --patients 1000          # seeds a fresh SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cm_load .venv/bin/python scripts/loadtest.py \
        --patients 1000                                            # a fresh PostgreSQL database
    .venv/bin/python scripts/loadtest.py --database-url sqlite:////tmp/demo.sqlite3  # seeded

Starts gunicorn (gunicorn.conf.py, 2 workers × 2 threads, DEBUG off) on a free loopback port,
then runs two phases of the same length with the same number of client connections: first
only the login page (the baseline), then the mix below, each connection picking its next
request at random with these weights:

    nurse worklist (one unit)          35 %   GET  /worklist/            as demo-nurse
    nurse saves a full check           15 %   POST /patients/<id>/check/ (20 patients, in turn)
    care team's flag board             25 %   GET  /flags/               as demo-care
    caregiver's home page              25 %   GET  /home/                as demo-caregiver

It prints requests per second and median / p95 latency per kind, the mix's throughput as a
multiple of the login page's throughput on the same server, and each kind's p95 as a multiple
of the login page's p95. Any answer other than the expected one (200; a save's 302) is an
error and makes the exit status 1. The client threads share the machine with the server: on
a 2-core machine both halves are slower than they would be apart, the ratios less so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import _full_check, database_url_for, migrated, prepare  # noqa: E402

MIX = {  # kind: weight (percent)
    "nurse worklist": 35,
    "nurse saves a check": 15,
    "flag board": 25,
    "caregiver home page": 25,
}
LOGIN = "login page"

# Run in a child process bound to the database: session cookies for the three users, and the
# nurse's patients (the saves go round them).
_SESSIONS = """
import json, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartmonitor.settings")
django.setup()
from django.test import Client
from monitoring.access import HOME_BACKEND
from monitoring.demo.home import CAREGIVER_USERNAME
from monitoring.models import TreatmentCourse, User
cookies = {}
for name, username, login in (
    ("nurse", "demo-nurse", {}),
    ("care", "demo-care", {}),
    ("caregiver", CAREGIVER_USERNAME, {"backend": HOME_BACKEND}),
):
    client = Client()
    client.force_login(User.objects.get(username=username), **login)
    cookies[name] = client.cookies["sessionid"].value
nurse = User.objects.get(username="demo-nurse")
patients = [
    str(c.patient.public_id)
    for c in TreatmentCourse.objects.under_monitoring()
    .filter(unit__in=nurse.units.all(), care_setting="inpatient")
    .select_related("patient")[:20]
]
print(json.dumps({"cookies": cookies, "patients": patients}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn on loopback for the length of a ``with`` block."""

    def __init__(self, url: str, static_root: Path):
        self.port = _free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_DEBUG": "false",
            "DJANGO_STATIC_ROOT": str(static_root),
            "DJANGO_SECRET_KEY": "loadtest-" + secrets.token_urlsafe(40),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "2",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        self.env.pop("DATABASE_REPLICA_URL", None)

    def run(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def __enter__(self):
        self.run("manage.py", "collectstatic", "--noinput", "-v0")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--access-logfile", "/dev/null"],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                conn = HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


class Load:
    """Client connections sending requests for a fixed time; latencies per kind."""

    def __init__(self, port: int, sessions: dict, seed: int):
        self.port, self.sessions = port, sessions
        self.csrf = secrets.token_hex(16)  # a 32-character secret: cookie and header alike
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.saves = 0

    def request(self, conn: HTTPConnection, kind: str) -> bool:
        cookies = self.sessions["cookies"]
        if kind == LOGIN:
            conn.request("GET", "/accounts/login/")
            return self._answer(conn) == 200
        if kind == "nurse worklist":
            conn.request("GET", "/worklist/", headers=self._cookie(cookies["nurse"]))
            return self._answer(conn) == 200
        if kind == "flag board":
            conn.request("GET", "/flags/", headers=self._cookie(cookies["care"]))
            return self._answer(conn) == 200
        if kind == "caregiver home page":
            conn.request("GET", "/home/", headers=self._cookie(cookies["caregiver"]))
            return self._answer(conn) == 200
        with self.lock:  # each save a minute before the last, round the patients
            self.saves += 1
            number = self.saves
        patients = self.sessions["patients"]
        patient = patients[number % len(patients)]
        at = datetime.now().astimezone() - timedelta(minutes=number // len(patients) + 1)
        headers = {
            **self._cookie(cookies["nurse"]),
            "Content-Type": "application/x-www-form-urlencoded",
            "X-CSRFToken": self.csrf,
        }
        conn.request("POST", f"/patients/{patient}/check/", urlencode(_full_check(at)), headers)
        return self._answer(conn) == 302

    def _cookie(self, session: str) -> dict:
        return {"Cookie": f"sessionid={session}; csrftoken={self.csrf}"}

    @staticmethod
    def _answer(conn: HTTPConnection) -> int:
        response = conn.getresponse()
        response.read()
        return response.status

    def warm_up(self, kinds: list[str]) -> None:
        """Each kind a few times before measuring (templates compiled in every worker)."""
        conn = HTTPConnection("127.0.0.1", self.port, timeout=60)
        for kind in kinds * 4:
            if not self.request(conn, kind):
                raise RuntimeError(f"{kind}: unexpected answer while warming up")

    def run(self, kinds: dict[str, int], seconds: float, connections: int) -> dict:
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        errors: dict[str, int] = dict.fromkeys(kinds, 0)
        names, weights = list(kinds), list(kinds.values())
        choices = [self.random.choices(names, weights, k=100_000) for _ in range(connections)]
        deadline = time.monotonic() + seconds

        def client(slot: int) -> None:
            conn = HTTPConnection("127.0.0.1", self.port, timeout=30)
            for kind in choices[slot]:
                if time.monotonic() >= deadline:
                    return
                started = time.perf_counter()
                try:
                    ok = self.request(conn, kind)
                except OSError:
                    ok = False
                    conn.close()
                    conn = HTTPConnection("127.0.0.1", self.port, timeout=30)
                elapsed = (time.perf_counter() - started) * 1000
                with self.lock:
                    times[kind].append(elapsed)
                    errors[kind] += not ok

        threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        return {
            kind: {
                "count": len(times[kind]),
                "rps": len(times[kind]) / elapsed,
                "median": statistics.median(times[kind]) if times[kind] else 0.0,
                "p95": _p95(times[kind]),
                "errors": errors[kind],
            }
            for kind in kinds
        }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(len(ordered) * 0.95) - 1)] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="an already seeded demo database")
    parser.add_argument("--patients", type=int, default=1000, help="seed a fresh one (1000)")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase (20)")
    parser.add_argument("--connections", type=int, default=8, help="client connections (8)")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="cartmonitor-load-"))
    try:
        url = args.database_url
        if not url:
            engine = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
            template = database_url_for(engine, 0, folder)
            url = database_url_for(engine, args.patients, folder)
            print(f"seeding {args.patients:,} patients on {engine}", flush=True)
            migrated(template)
            prepare(url, template, args.patients)
        with Server(url, folder / "static") as server:
            sessions = json.loads(server.run("-c", _SESSIONS).strip().splitlines()[-1])
            load = Load(server.port, sessions, args.seed)
            print(
                f"gunicorn 2 workers × 2 threads on 127.0.0.1:{server.port}, "
                f"{args.connections} connections, {args.seconds:.0f} s a phase",
                flush=True,
            )
            load.warm_up([LOGIN, *MIX])
            baseline = load.run({LOGIN: 1}, args.seconds, args.connections)[LOGIN]
            mixed = load.run(MIX, args.seconds, args.connections)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    total = sum(r["rps"] for r in mixed.values())
    errors = baseline["errors"] + sum(r["errors"] for r in mixed.values())
    print("\n| kind | share | requests | req/s | median ms | p95 ms | p95 × login's |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {LOGIN} (alone) | 100 % | {baseline['count']} | {baseline['rps']:.1f} | "
        f"{baseline['median']:.0f} | {baseline['p95']:.0f} | 1.0 |"
    )
    for kind, r in mixed.items():
        print(
            f"| {kind} | {MIX[kind]} % | {r['count']} | {r['rps']:.1f} | {r['median']:.0f} | "
            f"{r['p95']:.0f} | {r['p95'] / baseline['p95']:.1f} |"
        )
    print(
        f"\nmix: {total:.1f} requests/s = {total / baseline['rps']:.2f} × the login page's "
        f"{baseline['rps']:.1f} requests/s on the same server; {errors} errors"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
