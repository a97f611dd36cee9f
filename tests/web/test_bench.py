"""`make bench` (scripts/bench.py) runs end to end at a tiny size: every hot page and both
baselines get a row with its multiple of the login page, and no page answers with an error.
It measures; it asserts nothing about speed (the suite pins query counts instead)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "login page (anonymous)",
    "profile page (logged in, no patients)",
    "worklist (nurse, 1 unit)",
    "worklist (care team, all units)",
    "flag board (care team, all units)",
    "course page (14 days)",
    "handover (nurse, 1 unit)",
    "home page (caregiver)",
    "course charts JSON (14 days)",
    "course charts JSON, unchanged (304)",
    "save a full check",
]


@pytest.mark.slow
def test_bench_prints_every_hot_page_as_a_multiple_of_the_login_page():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "scripts/bench.py", "--sizes", "2,3", "--repeat", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "| page | median ms | p95 ms | × login | queries | KB |" in out
    for size in ("2 patients", "3 patients"):
        assert f"SQLite, {size}" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    for page in PAGES:
        assert sum(row.startswith(f"| {page} |") for row in rows) == 3, page  # 2 sizes + growth
    # Every page answered 200 (a save: its redirect; the kept charts: 304 Not Modified).
    assert "(HTTP" not in out
    assert "DIFFER" not in out  # the same queries at both sizes


@pytest.mark.slow
def test_the_mixed_load_runs_under_gunicorn_with_no_errors():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    result = subprocess.run(
        [
            sys.executable,
            "scripts/loadtest.py",
            *("--patients", "2", "--seconds", "2", "--connections", "2"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for kind in ("login page (alone)", "nurse worklist", "nurse saves a check", "flag board"):
        assert f"| {kind} |" in result.stdout
    assert "| caregiver home page |" in result.stdout
    assert "; 0 errors" in result.stdout
