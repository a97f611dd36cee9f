"""Production serving, end to end: collectstatic with the manifest storage, then gunicorn with
gunicorn.conf.py answers with DEBUG off, as a hospital server would run it.

The rest of the suite renders templates without collectstatic (tests/conftest.py), so this is
the one place that would notice a vendored file whose .map is missing (collectstatic fails)
or a template naming a static file that does not exist (every page 500s with DEBUG off).
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> tuple[int, dict, bytes]:
    """GET without following redirects: (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:  # 3xx/4xx/5xx still carry status and headers
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """collectstatic into a temporary STATIC_ROOT, then gunicorn on a free port."""
    tmp = tmp_path_factory.mktemp("serving")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_"))},
        "DJANGO_SETTINGS_MODULE": "cartmonitor.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_STATIC_ROOT": str(tmp / "static"),
        # Its own throwaway database, whatever DATABASE_URL the suite runs with.
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr

    # No arguments: gunicorn reads ./gunicorn.conf.py, as in production.
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                fetch(base + "/healthz")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    pytest.fail("gunicorn did not start:\n" + server.communicate()[0])
                time.sleep(0.1)
        yield base, tmp / "static"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_collectstatic_writes_a_manifest_with_hashed_names(production):
    _, static_root = production
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]

    hashed = manifest["vendor/bootstrap/bootstrap.min.css"]
    assert hashed != "vendor/bootstrap/bootstrap.min.css"
    assert (static_root / hashed).is_file()


def test_gunicorn_answers_the_health_check(production):
    base, _ = production

    status, headers, body = fetch(base + "/healthz")

    # Not migrated and no worker here: the workers' state is unknown, and that never takes a
    # web server out of the load balancer.
    assert status == 200
    assert json.loads(body) == {"status": "degraded", "workers": "unknown"}
    assert "Content-Security-Policy" in headers


def test_gunicorn_serves_hashed_static_files_cached_for_good(production):
    base, static_root = production
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]

    status, headers, body = fetch(f"{base}/static/{manifest['vendor/bootstrap/bootstrap.min.css']}")

    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert b"Bootstrap" in body[:200]
    # The name changes with the content, so browsers may keep it forever.
    assert "immutable" in headers["Cache-Control"]


def test_pages_render_with_debug_off_and_link_the_hashed_files(production):
    base, static_root = production
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]

    status, _, body = fetch(base + "/accounts/login/")
    redirect_status, redirect_headers, _ = fetch(base + "/worklist/")

    assert status == 200
    assert f"/static/{manifest['vendor/bootstrap/bootstrap.min.css']}" in body.decode()
    assert redirect_status == 302  # login required, not a 500
    assert redirect_headers["Location"].startswith("/accounts/login/")
