"""docs/events.md generated from the event catalogue, so the documentation cannot drift from the code."""

from __future__ import annotations

import json

from .events import CATALOGUE, EXAMPLES, catalogue_table
from .schemas import KIND_MESSAGES, KIND_TYPES, KINDS


def kinds_table() -> str:
    """Each field kind, its JSON Schema and what a caller is told when a value is not of it."""
    from pydantic import TypeAdapter

    rows = ["| kind | JSON Schema | refused with |", "|---|---|---|"]
    for kind in KINDS:
        schema = json.dumps(TypeAdapter(KIND_TYPES[kind]).json_schema(), sort_keys=True)
        rows.append(f"| `{kind}` | `{schema}` | `{KIND_MESSAGES[kind]}` |")
    return "\n".join(rows) + "\n"


def render_doc() -> str:
    """docs/events.md: the catalogue table, the routing rules and an example of each payload."""
    parts = [
        "# Events\n\n",
        "Generated from `actors/protocol/events.py` by `python -m actors.protocol.events_docs > docs/events.md`;\n",
        "a test fails when it is out of date. Publish with `POST /api/live-sync`\n",
        "(`{\"type\", \"room\"?, \"data\"}`, ADMIN or SERVICE token) or in the server process with\n",
        "`ActorSystem.events` (`EventService`, one method per\n",
        "type). Both go through the same validation: a bad payload is 400 `BAD_REQUEST` with one entry per bad\n",
        "field in `error.fields` (`data.leadId: required`), an unknown type 400 `UNKNOWN_TYPE`, a bad room\n",
        "400 `INVALID_ROOM`; nothing is published by a failed request.\n\n",
        "Ids may be strings or integers and are routed as strings. Fields not listed pass through unchanged.\n",
        "A `NOTIFICATION` published here is a bare frame: it is not stored, counted or shown in the\n",
        "notification center; create notifications with `POST /api/notifications` (docs/notifications.md).\n",
        "Without a `room`, an event goes to the type's default rooms. `LEAD_ASSIGNED` goes to two rooms; the\n",
        "answer is then the first room's `{room, epoch, offset, delivered}` plus `rooms`, one entry per room.\n\n",
        "`CAMPAIGN_PROGRESS` (per room) and `STATS_UPDATE` (per room) are coalesced: at most one per\n",
        "`COALESCE_INTERVAL` (250 ms) goes out, the first of a quiet spell at once and the latest held value at\n",
        "the end of the interval, so the last value of a burst always goes out. A held update answers\n",
        "`{room, coalesced: true, offset: null, delivered: 0}` and takes no offset. `STATS_UPDATE` figures are\n",
        "merged into the room's last known set and every update carries the whole set; a client subscribing\n",
        "to a room gets its latest `STATS_UPDATE` and `CAMPAIGN_PROGRESS` right after `SUBSCRIBED`.\n",
        "`POST /api/live-sync/stats` takes `{\"stats\": {...}, \"room\"?}` (a push) or `{\"recompute\": true}`\n",
        "(asks `STATS_PROVIDER`, answers 200 with the figures, 409 when there is no provider or it failed).\n\n",
        catalogue_table(),
        "\n## Field kinds\n\n",
        "Each field is declared by its kind. A pydantic v2 model is built from each type's declaration\n",
        "(`actors/protocol/schemas.py`): it checks payloads (strictly: `\"5\"` is not a number, `true` is not an id)\n",
        "and gives the JSON Schema of `GET /api/openapi.json` (`components.schemas.<Type>Data`, e.g.\n",
        "`LeadAssignedData`). A payload is passed on as it came; the model only judges it.\n\n",
        kinds_table(),
        "\n## Your own event types\n\n",
        "A deployment adds its own types with `EVENT_TYPES_FILE` (a TOML or JSON file, see\n",
        "docs/operations.md): the same kinds, default rooms from templates, validated and documented like the\n",
        "types above, and listed in `GET /api/openapi.json`. They go straight to their rooms (never coalesced\n",
        "or replaced in a slow socket's queue).\n",
        "\n## Examples\n\n",
    ]
    for type_ in sorted(t for t in EXAMPLES if not CATALOGUE[t].custom):
        parts.append(f"`{type_}`\n```json\n{json.dumps(EXAMPLES[type_])}\n```\n\n")
    return "".join(parts)


if __name__ == "__main__":
    print(render_doc(), end="")
