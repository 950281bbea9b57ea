"""Runs the JavaScript unit tests (node --test tests/js) so that scripts/test covers them."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

HERE = Path(__file__).resolve().parent


def test_realtime_js_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        reason = "Node.js is not installed: the realtime.js unit tests (tests/js) need node 20+"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    result = subprocess.run([node, "--test", str(HERE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
