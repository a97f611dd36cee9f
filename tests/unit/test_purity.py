"""monitoring.grading is pure Python (house style: STYLE.md, "grading/ is pure Python")."""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import monitoring.grading

REPO_ROOT = Path(__file__).resolve().parents[2]

# Imports every grading module in a fresh interpreter, then lists any django module loaded.
PROBE = """
import importlib, pkgutil, sys
import monitoring.grading as grading
for module in pkgutil.iter_modules(grading.__path__):
    importlib.import_module(f"monitoring.grading.{module.name}")
print(sorted(name for name in sys.modules if name == "django" or name.startswith("django.")))
"""


def test_importing_the_grading_library_never_imports_django():
    # A fresh interpreter: in this pytest process Django may already be loaded by plugins.
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_every_grading_module_opens_by_naming_its_source():
    modules = [monitoring.grading] + [
        importlib.import_module(f"monitoring.grading.{m.name}")
        for m in pkgutil.iter_modules(monitoring.grading.__path__)
    ]
    assert len(modules) == 10  # __init__ plus nine modules
    for module in modules:
        assert module.__doc__, module.__name__
        assert "Source" in module.__doc__, module.__name__


def test_the_public_api_is_exported_explicitly():
    """The API the README names is in ``__all__``, and every name there can be imported."""
    readme_api = {"CRSInputs", "grade_crs", "ICANSInputs", "grade_icans", "is_hypotensive"}

    assert readme_api <= set(monitoring.grading.__all__)
    for name in monitoring.grading.__all__:
        assert hasattr(monitoring.grading, name), name
