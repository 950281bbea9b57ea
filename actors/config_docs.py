"""The configuration reference (docs/configuration.md) generated from ``Settings``, so it cannot drift."""

from __future__ import annotations

import dataclasses

from .config import Settings, env_name, flag_name

HEADER = """# Configuration

Every setting is an environment variable and a flag of `realtime-server serve` (a flag wins).
This file is generated from `actors/config.py` by `python -m actors.config_docs > docs/configuration.md`;
a test fails when it is out of date.

| variable | flag | default | meaning |
|---|---|---|---|
"""


def render() -> str:
    rows = []
    for f in dataclasses.fields(Settings):
        default = f.default
        if isinstance(default, tuple):
            default = ",".join(default) or "(empty)"
        elif isinstance(default, bool):
            default = "true" if default else "false"
        elif default == "":
            default = "(empty)"
        rows.append(f"| `{env_name(f)}` | `{flag_name(f)}` | `{default}` | {f.metadata.get('help', '')} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render(), end="")
