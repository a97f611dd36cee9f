"""Benchmark cartmonitor's hot pages at 100 and 1,000 patients; prints a table of figures.

    make bench                      # SQLite (fresh files under /tmp)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cartmonitor_bench make bench

For each size it creates a fresh database, seeds ``seed_demo --patients N --units N/20
--days 14`` (about 20 patients a unit, vitals every 4 h, neuro every 8 h, labs daily) and measures
in-process (Django's test client, real database, no network): the nurse worklist, the care
team's flag board, a 14-day course page and saving a full bedside check — median and p95
latency and the number of queries. It also times the login page (anonymous) the same way and
prints every page's median as a multiple of the login page's median in the same run: absolute
times on shared machines move several-fold from day to day, these ratios much less. Then it
serves the 1,000-patient database with gunicorn (2 workers) and drives the flag board from a
load generator on loopback for requests per second. Speed is measured here, never asserted in
the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REPEAT = 40
# The reference page: every other page's median is also reported as a multiple of its median.
LOGIN = "login page (anonymous)"
TARGETS = "every page: median < 100 ms and p95 < 150 ms at 1,000 patients; saving < 100 ms"


def database_url_for(size: int) -> str:
    """A fresh database per size: a temp SQLite file, or <name>_<size> on PostgreSQL."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        return f"sqlite:///{tempfile.gettempdir()}/cartmonitor-bench-{size}.sqlite3"
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'cartmonitor_bench'}_{size}"
    return urlunsplit(parts._replace(path=f"/{name}"))


def prepare(url: str, size: int) -> None:
    """Drop, create, migrate and seed a database in a child process (settings read env)."""
    env = {**os.environ, "DATABASE_URL": url}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        parts = urlsplit(url)
        admin = urlunsplit(parts._replace(path="/postgres"))
        name = parts.path.lstrip("/")
        for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
            subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    started = time.monotonic()
    subprocess.run(
        [
            *manage,
            "seed_demo",
            "--patients",
            str(size),
            "--units",
            str(max(2, size // 20)),
            "--days",
            "14",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    print(f"  seeded {size} patients in {time.monotonic() - started:.1f} s", flush=True)


def measure(url: str) -> dict:
    """Latency and query counts of each page, in a child process bound to ``url``."""
    out = subprocess.run(
        [sys.executable, __file__, "--measure"],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        text=True,
    )
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure_here() -> None:
    import json

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartmonitor.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from monitoring.models import TreatmentCourse, User

    nurse = User.objects.get(username="demo-nurse")
    care = User.objects.get(username="demo-care")
    clients = {}
    for user in (nurse, care):
        client = Client()
        client.force_login(user)
        clients[user.username] = client
    # The longest course on the nurse's unit: 14 days of records.
    course = (
        TreatmentCourse.objects.filter(unit__in=nurse.units.all())
        .order_by("infused_at")
        .select_related("patient")
        .first()
    )
    courses = list(
        TreatmentCourse.objects.filter(unit__in=nurse.units.all()).select_related("patient")
    )
    pages = {
        # First: the baseline the ratios divide by (a plain form page, no patient data).
        LOGIN: (Client(), reverse("login")),
        "worklist (nurse, 1 unit)": (clients["demo-nurse"], "/worklist/"),
        "flag board (care team, all units)": (clients["demo-care"], "/flags/"),
        "course page (14 days)": (clients["demo-nurse"], f"/patients/{course.patient.public_id}/"),
    }
    results = {}
    for label, (client, path) in pages.items():
        client.get(path)  # warm caches, compile templates
        times, queries, status = [], 0, 0
        for _ in range(REPEAT):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
            queries, status = len(ctx.captured_queries), response.status_code
        results[label] = _summary(times, queries, status)

    times, queries, status = [], 0, 0
    for index in range(REPEAT):
        target = courses[index % len(courses)]
        data = _full_check(timezone.localtime() - timedelta(minutes=REPEAT - index))
        path = f"/patients/{target.patient.public_id}/check/"
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = clients["demo-nurse"].post(path, data)
            times.append((time.perf_counter() - started) * 1000)
        queries, status = len(ctx.captured_queries), response.status_code
    results["save a full check"] = _summary(times, queries, status)
    print(json.dumps(results))


def _full_check(at) -> dict:
    return {
        "observed_at": at.strftime("%Y-%m-%dT%H:%M"),
        "vitals-temperature": "38.3",
        "vitals-temperature_unit": "C",
        "vitals-heart_rate_bpm": "104",
        "vitals-resp_rate_per_min": "20",
        "vitals-sbp_mmhg": "112",
        "vitals-dbp_mmhg": "68",
        "vitals-spo2_pct": "95",
        "vitals-oxygen_support": "low_flow",
        "vitals-oxygen_flow_l_min": "2",
        "vitals-vasopressors_count": "0",
        "symptoms-fever": "on",
        "labs-crp_mg_l": "60",
        "labs-ferritin_ng_ml": "900",
    }


def _summary(times: list[float], queries: int, status: int) -> dict:
    ordered = sorted(times)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[max(0, round(len(ordered) * 0.95) - 1)],
        "queries": queries,
        "status": status,
    }


def load_test(url: str, seconds: float = 10.0, concurrency: int = 8) -> dict:
    """Requests per second of the flag board under gunicorn (2 workers) on loopback."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WEB_CONCURRENCY": "2",
        "GUNICORN_BIND": "127.0.0.1:8765",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    cookie = subprocess.run(
        [sys.executable, "-c", _SESSION_SNIPPET],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--workers",
            "2",
            "--bind",
            "127.0.0.1:8765",
            "--access-logfile",
            "/dev/null",
            "cartmonitor.wsgi",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_server()
        counts, errors = [0] * concurrency, [0] * concurrency
        deadline = time.monotonic() + seconds

        def worker(slot: int) -> None:
            conn = HTTPConnection("127.0.0.1", 8765, timeout=10)
            while time.monotonic() < deadline:
                conn.request("GET", "/flags/", headers={"Cookie": f"sessionid={cookie}"})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    counts[slot] += 1
                else:
                    errors[slot] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        return {
            "rps": sum(counts) / elapsed,
            "errors": sum(errors),
            "concurrency": concurrency,
            "seconds": elapsed,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


_SESSION_SNIPPET = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartmonitor.settings")
django.setup()
from django.test import Client
from monitoring.models import User
client = Client()
client.force_login(User.objects.get(username="demo-care"))
print(client.cookies["sessionid"].value)
"""


def _wait_for_server() -> None:
    for _ in range(100):
        try:
            conn = HTTPConnection("127.0.0.1", 8765, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--no-load", action="store_true", help="skip the gunicorn load test")
    args = parser.parse_args()
    if args.measure:
        _measure_here()
        return
    # Production-like: DEBUG off, static files from a collectstatic manifest.
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("DJANGO_STATIC_ROOT", tempfile.mkdtemp(prefix="cartmonitor-static-"))
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v0"], check=True
    )
    engine = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"cartmonitor benchmark on {engine}, {os.cpu_count()} CPUs, {REPEAT} requests a page")
    results = {}
    for size in sizes:
        url = database_url_for(size)
        print(f"{size} patients:", flush=True)
        prepare(url, size)
        results[size] = measure(url)
    labels = list(results[sizes[0]])

    def vs_login(size: int, label: str) -> float:
        """A page's median over the login page's median at the same size, same run."""
        return results[size][label]["median"] / results[size][LOGIN]["median"]

    # One row a page; for each size: median, p95, median as a multiple of login's, queries.
    header = f"{'page':36}" + "".join(
        f" | {f'{size} pts median':>16} {'p95':>8} {'× login':>8} {'queries':>7}" for size in sizes
    )
    print()
    print(header)
    print("-" * len(header))
    for label in labels:
        row = f"{label:36}"
        for size in sizes:
            r = results[size][label]
            row += (
                f" | {r['median']:13.1f} ms {r['p95']:5.1f} ms "
                f"{vs_login(size, label):7.1f}× {r['queries']:7d}"
            )
            if r["status"] not in (200, 302):
                row += f" (HTTP {r['status']})"
        print(row)
    if len(sizes) > 1:
        # Growth from the smallest to the largest database: the raw latency ratio, and how the
        # page's multiple of the login page moved (which cancels out a machine slowing down).
        small, large = sizes[0], sizes[-1]
        print()
        for label in labels:
            ratio = results[large][label]["median"] / results[small][label]["median"]
            same = results[large][label]["queries"] == results[small][label]["queries"]
            moved = (
                ""
                if label == LOGIN
                else f" (× login {vs_login(small, label):.1f} → {vs_login(large, label):.1f})"
            )
            print(
                f"{label:36} {large}/{small} latency x{ratio:.2f}{moved}; "
                f"queries {'identical' if same else 'DIFFER'}"
            )
    if not args.no_load:
        load = load_test(database_url_for(sizes[-1]))
        print()
        print(
            f"flag board under gunicorn (2 workers), {load['concurrency']} connections, "
            f"{load['seconds']:.0f} s: {load['rps']:.0f} requests/s, {load['errors']} errors"
        )
    print()
    print(f"targets: {TARGETS}")


if __name__ == "__main__":
    main()
