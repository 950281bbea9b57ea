"""The files scripts/gen-clients writes (the React package's copy of the browser client, the event payload
types, the Python client's typed methods) are up to date with their sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_client_files_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-clients"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_event_type_has_a_payload_type_and_a_python_method():
    from actors.protocol.events import CATALOGUE

    dts = (ROOT / "clients/react/src/events.d.ts").read_text()
    methods = (ROOT / "clients/python/src/realtime_client/_events.py").read_text()
    for type_, spec in CATALOGUE.items():
        assert f"  {type_}: " in dts, type_
        assert f"    def {type_.lower()}(" in methods, type_
        for field in spec.required:
            assert f"  {field}: " in dts, (type_, field)
