"""Frame timestamps: ISO-8601 UTC with milliseconds and a Z, formatted once per millisecond."""

import re
import time
from datetime import UTC, datetime

from actors.protocol.frames import utc_now_iso

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_timestamps_match_the_clock_to_the_millisecond_and_move_on():
    seen = set()
    for _ in range(20):
        before = datetime.now(UTC)
        stamp = utc_now_iso()
        after = datetime.now(UTC)
        assert ISO_MS.match(stamp), stamp
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= parsed <= after
        seen.add(stamp)
        time.sleep(0.002)
    assert len(seen) == 20  # a new millisecond gives a new stamp, never a stale one
