"""The Python client's tests: its source is importable as ``realtime_client`` without installing it
(``pip install ./clients/python`` is what users do; test_packaging checks that it builds)."""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "clients" / "python" / "src"
if str(SOURCE) not in sys.path:
    sys.path.insert(0, str(SOURCE))
