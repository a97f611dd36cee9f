"""Benchmark cartmonitor's hot pages as multiples of the cheapest page, in one run.

    make bench                                   # SQLite: 100 and 1,000 patients
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cm_bench make bench   # and PostgreSQL
    .venv/bin/python scripts/bench.py --large    # and 10,000 patients (PostgreSQL: minutes)
    .venv/bin/python scripts/bench.py --engine postgresql --sizes 1000 --repeat 20

For each database engine and size it creates a fresh database, seeds ``seed_demo --patients N
--units N/20 --days 14`` (about 20 patients a unit, vitals every 4 h, neuro every 8 h, labs
daily) and measures in-process (Django's test client, real database, no network) every hot
page: median and p95 latency, the number of queries and the size of the response. Two
baselines are measured in the same run: the login page (anonymous; one template, no data) and
the profile page (logged in, no patient data). Every page's median is printed as a multiple of
the login page's median: absolute times on shared machines move several-fold from day to day,
these ratios much less. PostgreSQL is measured as well when DATABASE_URL is set (one database
a size, <name>_<size>, dropped and created again).

It asserts nothing: the test suite pins query counts, and tests/web/test_bench.py only proves
that this script runs (``--sizes 3 --repeat 2``). The mixed load under gunicorn is
scripts/loadtest.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REPEAT = 40
SIZES = (100, 1000)
LARGE = 10_000
# The reference page: every other page's median is also reported as a multiple of its median.
LOGIN = "login page (anonymous)"
PROFILE = "profile page (logged in, no patients)"
SAVE = "save a full check"
CHARTS = "course charts JSON (14 days)"
CHARTS_KEPT = "course charts JSON, unchanged (304)"


def database_url_for(engine: str, size: int, folder: Path) -> str:
    """A fresh database per size: a SQLite file in ``folder``, or <name>_<size> on PostgreSQL."""
    if engine == "sqlite":
        return f"sqlite:///{folder / f'bench-{size}.sqlite3'}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"{parts.path.lstrip('/') or 'cartmonitor_bench'}_{size}"
    return urlunsplit(parts._replace(path=f"/{name}"))


def _environment(url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DATABASE_REPLICA_URL", None)  # every read on the one database measured
    return env


def _psql(url: str, *statements: str) -> None:
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    for sql in statements:
        subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)


def _name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def migrated(template: str) -> None:
    """Create and migrate the empty database every size starts from (migrating takes longer
    than seeding a small hospital, so once per engine, then copied)."""
    if template.startswith("sqlite:///"):
        Path(template.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        name = _name(template)
        _psql(
            template, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
        )
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=_environment(template), check=True)


def prepare(url: str, template: str, size: int) -> float:
    """A copy of the migrated template, seeded in a child process; the seconds seeding took."""
    env = _environment(url)
    if url.startswith("sqlite:///"):
        shutil.copyfile(template.removeprefix("sqlite:///"), url.removeprefix("sqlite:///"))
    else:
        name = _name(url)
        _psql(
            url,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}" TEMPLATE "{_name(template)}"',
        )
    manage = [sys.executable, str(ROOT / "manage.py")]
    units = str(max(2, size // 20))
    started = time.monotonic()
    subprocess.run(
        [*manage, "seed_demo", "--patients", str(size), "--units", units, "--days", "14"],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def measure(url: str, repeat: int) -> dict:
    """Latency, queries and size of each page, in a child process bound to ``url``."""
    out = subprocess.run(
        [sys.executable, __file__, "--measure", "--repeat", str(repeat)],
        env=_environment(url),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure_here(repeat: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartmonitor.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from monitoring.access import HOME_BACKEND
    from monitoring.demo.home import CAREGIVER_USERNAME
    from monitoring.models import TreatmentCourse, User

    def client_for(username: str, **login) -> Client:
        client = Client()
        client.force_login(User.objects.get(username=username), **login)
        return client

    nurse, care = client_for("demo-nurse"), client_for("demo-care")
    unit = User.objects.get(username="demo-nurse").units.order_by("pk").first()
    on_unit = TreatmentCourse.objects.under_monitoring().filter(unit=unit)
    # The longest course under monitoring on the nurse's unit: 14 days of records.
    course = on_unit.order_by("infused_at").select_related("patient").first()
    pages = {
        # First the baselines the ratios divide by: no patient data at all.
        LOGIN: (Client(), reverse("login")),
        PROFILE: (nurse, reverse("monitoring:profile")),
        "worklist (nurse, 1 unit)": (nurse, "/worklist/"),
        "worklist (care team, all units)": (care, "/worklist/"),
        "flag board (care team, all units)": (care, "/flags/"),
        "course page (14 days)": (nurse, f"/patients/{course.patient.public_id}/"),
        "handover (nurse, 1 unit)": (nurse, f"/handover/?unit={unit.pk}"),
    }
    if User.objects.filter(username=CAREGIVER_USERNAME).exists():
        pages["home page (caregiver)"] = (
            client_for(CAREGIVER_USERNAME, backend=HOME_BACKEND),
            "/home/",
        )
    # The course page's charts, as static/js/course_charts.js fetches them: the first time, and
    # again with the ETag the browser kept (unchanged course: 304).
    charts = f"/patients/{course.patient.public_id}/charts/"
    pages[CHARTS] = (nurse, charts)
    pages[CHARTS_KEPT] = (nurse, charts)
    headers = {CHARTS_KEPT: {"If-None-Match": nurse.get(charts)["ETag"]}}
    results = {}
    for label, (client, path) in pages.items():
        client.get(path, headers=headers.get(label))  # warm caches, compile templates
        times = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(path, headers=headers.get(label))
                times.append((time.perf_counter() - started) * 1000)
        results[label] = _summary(times, len(ctx.captured_queries), response)

    targets = list(on_unit.select_related("patient"))
    times = []
    for index in range(repeat):
        target = targets[index % len(targets)]
        data = _full_check(timezone.localtime() - timedelta(minutes=repeat - index))
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = nurse.post(f"/patients/{target.patient.public_id}/check/", data)
            times.append((time.perf_counter() - started) * 1000)
    results[SAVE] = _summary(times, len(ctx.captured_queries), response)
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


def _summary(times: list[float], queries: int, response) -> dict:
    ordered = sorted(times)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[max(0, round(len(ordered) * 0.95) - 1)],
        "queries": queries,
        "status": response.status_code,
        "bytes": len(response.content),
    }


def report(engine: str, results: dict[int, dict], seeded: dict[int, float]) -> None:
    """Markdown tables: one per size, then the growth from the smallest to the largest."""
    sizes = sorted(results)
    for size in sizes:
        login = results[size][LOGIN]["median"]
        print(f"\n{engine}, {size:,} patients (seeded in {seeded[size]:.0f} s):\n")
        print("| page | median ms | p95 ms | × login | queries | KB |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, r in results[size].items():
            expected = (304,) if label == CHARTS_KEPT else (200, 302)  # kept: not modified
            note = "" if r["status"] in expected else f" (HTTP {r['status']})"
            print(
                f"| {label}{note} | {r['median']:.1f} | {r['p95']:.1f} | "
                f"{r['median'] / login:.1f} | {r['queries']} | {r['bytes'] / 1024:.0f} |"
            )
    if len(sizes) < 2:
        return
    small, large = sizes[0], sizes[-1]
    print(f"\n{engine}, growth from {small:,} to {large:,} patients:\n")
    print(
        f"| page | × login at {small:,} | × login at {large:,} | growth of × login "
        "| growth of median ms | queries |"
    )
    print("|---|---:|---:|---:|---:|---|")

    def vs_login(size: int, label: str) -> float:
        return results[size][label]["median"] / results[size][LOGIN]["median"]

    for label in results[small]:
        if label not in results[large]:
            continue
        same = all(results[s][label]["queries"] == results[small][label]["queries"] for s in sizes)
        before, after = vs_login(small, label), vs_login(large, label)
        raw = results[large][label]["median"] / results[small][label]["median"]
        print(
            f"| {label} | {before:.1f} | {after:.1f} | {after / before:.2f}× | {raw:.2f}× | "
            f"{'identical' if same else 'DIFFER'} |"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="patients, e.g. 100,1000"
    )
    parser.add_argument("--large", action="store_true", help=f"also {LARGE:,} patients")
    parser.add_argument("--repeat", type=int, default=REPEAT, help=f"requests a page ({REPEAT})")
    parser.add_argument(
        "--engine",
        choices=["sqlite", "postgresql"],
        action="append",
        help="only this engine (default: SQLite, and PostgreSQL when DATABASE_URL is set)",
    )
    args = parser.parse_args(argv)
    if args.measure:
        _measure_here(args.repeat)
        return
    engines = args.engine or ["sqlite"] + (["postgresql"] if os.environ.get("DATABASE_URL") else [])
    if "postgresql" in engines and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("PostgreSQL needs DATABASE_URL=postgres://...")
    sizes = [int(size) for size in args.sizes.split(",")] + ([LARGE] if args.large else [])
    folder = Path(tempfile.mkdtemp(prefix="cartmonitor-bench-"))
    # Production-like: DEBUG off, static files from a collectstatic manifest.
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["DJANGO_STATIC_ROOT"] = str(folder / "static")
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v0"],
        check=True,
        env=_environment(database_url_for("sqlite", 0, folder)),
    )
    print(
        f"cartmonitor benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}: {platform.platform()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {args.repeat} requests "
        "a page (warm), medians as multiples of the login page's median in the same run",
        flush=True,
    )
    try:
        for engine in engines:
            results, seeded = {}, {}
            template = database_url_for(engine, 0, folder)
            migrated(template)
            for size in sizes:
                url = database_url_for(engine, size, folder)
                print(f"{engine}: seeding {size:,} patients", flush=True)
                seeded[size] = prepare(url, template, size)
                results[size] = measure(url, args.repeat)
            report("SQLite" if engine == "sqlite" else "PostgreSQL", results, seeded)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
