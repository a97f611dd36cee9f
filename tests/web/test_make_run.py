"""`make run PORT=… HOST=…`: the Makefile honours both, and the README says so where it tells
how to start the app."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dry_run(*args: str) -> str:
    """What `make run` would execute (make -n runs nothing)."""
    done = subprocess.run(
        ["make", "-n", "run", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_serves_on_the_port_and_host_given():
    commands = dry_run("PORT=8001", "HOST=0.0.0.0")

    assert "runserver 0.0.0.0:8001" in commands
    assert "http://0.0.0.0:8001" in commands  # the worker's links follow the same port
    assert "runserver 127.0.0.1:8000" in dry_run()


def test_the_readme_says_how_to_choose_the_port_and_host_next_to_make_run():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## The two commands")
    section = readme[start : readme.index("\n## ", start + 1)]

    assert "make run PORT=8001" in section
    assert "HOST=" in section
    assert "DJANGO_ALLOWED_HOSTS" in section  # what another address also needs
