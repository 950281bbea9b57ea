"""Cost of actor tracing: a plain pykka actor vs TracedActor with debug off and on, in one run.

    .venv/bin/python scripts/bench_tracing.py [--messages 200000] [--rounds 5]

Prints messages/s for each and the ratios against the plain actor (best of the rounds).
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pykka  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.config import Settings  # noqa: E402
from actors.runtime.actor import TracedActor  # noqa: E402
from actors.runtime.context import ActorContext  # noqa: E402


class Ping:
    __slots__ = ()


class Plain(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message):
        self.count += 1


class Traced(TracedActor):
    def __init__(self, ctx) -> None:
        super().__init__(ctx, "bench")
        self.count = 0

    def handle(self, message):
        self.count += 1


def rate(ref, n: int) -> float:
    ping = Ping()
    started = time.perf_counter()
    for _ in range(n):
        ref.tell(ping)
    ref.ask("sync", timeout=60)
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = Settings(jwt_secret="x" * 32)

    def ctx(debug: bool) -> ActorContext:
        with_debug = settings.replace(websocket_debug=debug)
        return ActorContext.create(with_debug)

    refs = {"plain pykka": Plain.start(), "TracedActor, debug off": Traced.start(ctx(False)),
            "TracedActor, debug on": Traced.start(ctx(True))}
    best = {name: 0.0 for name in refs}
    for _ in range(args.rounds):
        for name, ref in refs.items():
            best[name] = max(best[name], rate(ref, args.messages))
    base = best["plain pykka"]
    for name, value in best.items():
        print(f"{name:24s} {value:>10,.0f} messages/s  {value / base:5.2f}x plain")
    for ref in refs.values():
        ref.stop()


if __name__ == "__main__":
    main()
