"""Cost of tracing, in process: actor messages and a room's fan-out, with tracing off, with a rule that does not
concern them, with a rule for one user among the members, and with everything traced.

    scripts/bench tracing [--messages 200000] [--members 10000] [--events 20] [--rounds 5] [--baseline REV]

Messages: ``tell`` rate to one ``TracedActor`` (and to a plain pykka actor, for scale). Fan-out:
``RoomActor._fan_out`` of one event to ``--members`` outlets over sockets that take every byte (a null socket:
the figure is our code's cost per member, not the kernel's), in deliveries per second. Each case runs in a
process of its own, round after round, so each starts from the same heap. ``--baseline REV`` adds the
tracing-off case on the code of git revision REV (extracted with ``git archive``), in the same rounds, so
"off" is compared with the code before tracing rules in one run. Best of the rounds.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if "--code" in sys.argv:  # the baseline's own actors/, not ours
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])
else:
    sys.path.insert(0, str(ROOT))

import pykka  # noqa: E402

from actors.config import Settings  # noqa: E402
from actors.rooms.memory_broker import MemoryBroker  # noqa: E402
from actors.rooms.room_actor import RoomActor  # noqa: E402
from actors.runtime.actor import TracedActor  # noqa: E402
from actors.runtime.context import ActorContext  # noqa: E402
from actors.transport.outlet import Outlet  # noqa: E402


class Ping:
    __slots__ = ()


class Plain(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> None:
        self.count += 1


class Traced(TracedActor):
    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx, "bench")
        self.count = 0

    def handle(self, message: Any) -> None:
        self.count += 1


class NullSocket:
    """Takes every byte at once: what is measured is the code between the room and the socket."""

    def send(self, data: bytes) -> int:
        return len(data)

    def fileno(self) -> int:
        return -1

    def shutdown(self, how: int) -> None:
        pass


class Member:
    """Stands in for a connection actor in the tracer: a connection id and its user."""

    kind = "connection"
    inline = True

    def __init__(self, connection_id: str, user: str) -> None:
        from actors.identity import Identity

        self.actor_id = connection_id
        self.identity = Identity(user, "EMPLOYEE", int(time.time()) + 3600)
        self.started_at = time.time()
        self.rooms = {"lead:1"}
        self._trace_generation = -1
        self._trace_self = False
        self.actor_ref = None

    def mailbox_depth(self) -> int:
        return 0

    def describe(self) -> dict[str, Any]:
        return {"id": self.actor_id}


SETTINGS = Settings(jwt_secret="x" * 32, outbox_max_frames=10_000_000, outbox_max_bytes=1 << 40)


def settle_collector() -> None:
    """As the server does after start-up (web/server.py): what is alive now is frozen out of the collector's
    sight, and young collections are rarer. Without it the rooms built last pay for the objects of the
    rooms built before them (a full collection walks them all), which measured a tracing cost that was none."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(SETTINGS.gc_young_threshold, middle, old)


def message_rate(ref: Any, n: int) -> float:
    ping = Ping()
    started = time.perf_counter()
    for _ in range(n):
        ref.tell(ping)
    ref.ask("sync", timeout=60)
    return n / (time.perf_counter() - started)


def fan_out_room(members: int, rule: str) -> tuple[Any, Any]:
    """A room of ``members`` outlets (not started: ``_fan_out`` is called directly) and its context."""
    ctx = ActorContext.create(SETTINGS)
    outlets = {}
    for n in range(members):
        outlet = Outlet(f"c{n}", NullSocket(), ctx.flusher, ctx.metrics, max_frames=SETTINGS.outbox_max_frames,
                        max_bytes=SETTINGS.outbox_max_bytes, write_timeout=10, close_timeout=1, held=False)
        outlets[f"c{n}"] = outlet
        # every member is a connection of user n, known to the tracer, as a server's connection actors are
        # (in every case, the baseline's too: the same objects on the heap, between the same outlets)
        ctx.tracer.started(Member(f"c{n}", str(n)))
    if rule != "off":
        from actors.runtime.tracer import TraceRules

        users = {"member": {"42"}, "other": {"not-a-member"}}.get(rule, set())
        ctx.tracer.set_rules(TraceRules(users=frozenset(users), all=rule == "all", until=time.time() + 3600,
                                        set_at=time.time()), announce=False)
    room = RoomActor(ctx, "lead:1", MemoryBroker(SETTINGS.history_size, SETTINGS.history_seconds), outlets)
    return room, ctx


def fan_out_rate(room: Any, events: int) -> float:
    """Deliveries per second: ``events`` events, each fanned out to every member."""
    broker = room._broker
    publications = [broker.publish("lead:1", "LEAD_UPDATED", {"leadId": "1", "n": n}, superseding=False)
                    for n in range(events)]
    started = time.perf_counter()
    delivered = 0
    for publication in publications:
        delivered += room._fan_out(publication)
    return delivered / (time.perf_counter() - started)


CASES = {"off": "tracing off", "other": "a rule for another user (not a member)",
         "member": "a rule for one member among them", "all": "everything traced"}


def case_round(case: str, members: int, events: int, messages: int, code: str) -> dict[str, float]:
    """One round of one case in a process of its own (``code``: the folder whose actors/ it imports), so every
    case starts from the same heap: rooms built in one process measured their build order, not their code."""
    out = subprocess.run([sys.executable, __file__, "--code", code, "--case", case, "--members", str(members),
                          "--events", str(events), "--messages", str(messages)],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": code})
    return {k: float(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def run_case(case: str, members: int, events: int, messages: int) -> None:
    """The child's side of ``case_round``: a traced actor's message rate and a room's fan-out rate."""
    context = ActorContext.create(SETTINGS.replace(websocket_debug=case == "all"))
    if case in ("other", "member"):  # the actor is no one's connection: the rule does not concern it
        from actors.runtime.tracer import TraceRules

        context.tracer.set_rules(TraceRules(users=frozenset({"someone-else"}), until=time.time() + 3600,
                                            set_at=time.time()), announce=False)
    room, _ = fan_out_room(members, case)
    ref = Traced.start(context)
    settle_collector()
    figures = {"messages": message_rate(ref, messages), "fanout": fan_out_rate(room, events)}
    ref.stop()
    print(json.dumps(figures))


def extract(rev: str) -> str:
    folder = tempfile.mkdtemp(prefix="bench-tracing-")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "actors", "scripts"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="a git revision whose tracing-off figures are measured beside ours")
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        run_case(args.case, args.members, args.events, args.messages)
        return

    plain = Plain.start()
    runs = [(name, str(ROOT), case) for case, name in CASES.items()]
    if args.baseline:
        runs.insert(0, (f"tracing off, code of {args.baseline}", extract(args.baseline), "off"))
    messages = {"plain pykka": 0.0, **{name: 0.0 for name, _, _ in runs}}
    fan = {name: 0.0 for name, _, _ in runs}
    for _ in range(args.rounds):
        messages["plain pykka"] = max(messages["plain pykka"], message_rate(plain, args.messages))
        for name, code, case in runs:
            figures = case_round(case, args.members, args.events, args.messages, code)
            messages[name] = max(messages[name], figures["messages"])
            fan[name] = max(fan[name], figures["fanout"])
    plain.stop()
    base = messages["plain pykka"]
    print(f"actor messages: {args.messages:,} tells to one actor (TracedActor unless named), best of {args.rounds}")
    for name, value in messages.items():
        print(f"  {name:46s} {value:>12,.0f} messages/s  {value / base:5.2f}x plain")
    off = fan["tracing off"]
    print(f"fan-out: {args.events} events to {args.members:,} members each, best of {args.rounds} "
          "(each case in a process of its own)")
    for name, value in fan.items():
        print(f"  {name:46s} {value:>12,.0f} deliveries/s  {value / off:5.3f}x off")


if __name__ == "__main__":
    main()
