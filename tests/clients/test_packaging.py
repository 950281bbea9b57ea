"""``pip install ./clients/python`` works from a fresh clone: the distribution builds (pip fetches the build
backend, setuptools, from PyPI as it would for a user), carries its
metadata, its one dependency and its type marker, and the package type-checks strictly."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "python"


def test_the_wheel_has_complete_metadata(tmp_path):
    clone = tmp_path / "realtime-client"  # a copy, as a fresh clone has it: no build output left in the repository
    shutil.copytree(PACKAGE, clone, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                             "-w", str(tmp_path), str(clone)], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("realtime_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "realtime_client/py.typed" in names and "realtime_client/_events.py" in names
    for line in ("Name: realtime-client", "Requires-Python: >=3.10", "Requires-Dist: httpx", "Classifier: Typing :: Typed"):
        assert line in metadata, line
    assert "from realtime_client import Client" in metadata, "the README (with examples) is the long description"


def test_the_package_type_checks_strictly():
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (scripts/lint installs it: pip install -e '.[dev]')")
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(PACKAGE / "src")],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
