"""A STATS_PROVIDER for the tests: counts its calls so a test can see each recompute."""

calls = 0


def figures() -> dict:
    global calls
    calls += 1
    return {"totalContacts": 1000 + calls, "recomputed": calls}


def broken() -> dict:
    raise RuntimeError("database unreachable")
