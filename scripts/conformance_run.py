"""Run Autobahn|Testsuite's fuzzingclient against our /echo and a plain gevent-websocket echo, and report.

Called by ``scripts/conformance`` (which installs Autobahn|Testsuite under Python 2.7 first), not by
hand. Starts ``realtime-server serve --conformance-echo`` and ``scripts/echo_baseline.py`` on free
loopback ports, runs the cases, writes the results into ``docs/conformance.md`` (or ``--out``), and
exits 1 when any case of ours FAILED (``--strict``: also on NON-STRICT, or a 9.* case slower than
``--max-ratio`` times the baseline's). Everything stays on 127.0.0.1 and every process it starts is
stopped before it returns.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OURS, BASELINE = "realtime-server", "gevent-websocket"
ALL_CASES = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*"
GOOD = ("OK", "INFORMATIONAL")

# The suite's performance cases send messages of up to 16 MiB, in up to 65,536 fragments, as fast as
# the server echoes: the limits that protect a dashboard server (64 KiB, 32 fragments, 20 frames a
# second) would close them at once. The code path is the same; only these values are raised.
LIMITS = {
    "--max-frame-bytes": str(16 * 1024 * 1024),
    "--max-message-fragments": "1000000",
    "--message-timeout": "120",
    "--rate-limit-per-second": "1000000000",
    "--rate-limit-burst": "1000000000",
    "--outbox-max-bytes": str(64 * 1024 * 1024),
    "--outbox-max-frames": "100000",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"conformance: a server exited at start ({proc.args!r}): see its log")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"conformance: nothing listens on port {port} after {timeout:.0f}s")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def case_key(case: str) -> list[int]:
    return [int(part) for part in case.split(".")]


def run(args: argparse.Namespace, work: Path) -> dict[str, dict[str, Any]]:
    venv_bin = Path(sys.executable).parent
    ours_port, base_port = free_port(), free_port()
    env = {**os.environ, "JWT_SECRET": secrets.token_urlsafe(48)}
    logs = {name: open(work / f"{name}.log", "w") for name in (OURS, BASELINE, "wstest")}
    limits = [item for pair in LIMITS.items() for item in pair]
    ours = subprocess.Popen(
        [str(venv_bin / "realtime-server"), "serve", "--conformance-echo", "--host", "127.0.0.1", "--port",
         str(ours_port), "--database-url", f"sqlite:///{work}/realtime.db", "--data-dir", str(work),
         "--log-level", "WARNING", *limits], env=env, stdout=logs[OURS], stderr=subprocess.STDOUT)
    base = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "echo_baseline.py"), "--port", str(base_port)],
                            stdout=logs[BASELINE], stderr=subprocess.STDOUT)
    try:
        wait_listening(ours_port, ours)
        wait_listening(base_port, base)
        servers = [{"agent": OURS, "url": f"ws://127.0.0.1:{ours_port}/echo"}]
        if not args.no_baseline:
            servers.append({"agent": BASELINE, "url": f"ws://127.0.0.1:{base_port}/"})
        spec = {"outdir": str(work / "reports"), "servers": servers,
                "cases": [case.strip() for case in args.cases.split(",") if case.strip()],
                "exclude-cases": ["12.*", "13.*"], "exclude-agent-cases": {}}
        (work / "spec.json").write_text(json.dumps(spec, indent=2))
        started = time.monotonic()
        try:
            subprocess.run([args.wstest, "-m", "fuzzingclient", "-s", str(work / "spec.json")], cwd=work,
                           stdout=logs["wstest"], stderr=subprocess.STDOUT, timeout=args.timeout, check=True)
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
            tail = (work / "wstest.log").read_text(errors="replace").splitlines()[-20:]
            raise SystemExit(f"conformance: wstest did not finish ({exc}); its last lines:\n"
                             + "\n".join(tail)) from None
        print(f"conformance: the suite ran in {time.monotonic() - started:.0f} s", flush=True)
        with urllib.request.urlopen(f"http://127.0.0.1:{ours_port}/healthz", timeout=5) as answer:
            if answer.status != 200:
                raise SystemExit("conformance: our server stopped answering /healthz during the suite")
    finally:
        stop(ours)
        stop(base)
        for log in logs.values():
            log.close()
    index: dict[str, dict[str, Any]] = json.loads((work / "reports" / "index.json").read_text())
    for cases in index.values():
        for result in cases.values():
            report = json.loads((work / "reports" / result["reportfile"]).read_text())
            result["description"] = " ".join(str(report.get("description", "")).split())
    return index


def version(wstest: str) -> str:
    out = subprocess.run([wstest, "-a"], capture_output=True, text=True, timeout=60).stdout
    return ", ".join(line.strip() for line in out.splitlines() if line.strip())


def tally(cases: dict[str, Any]) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for result in cases.values():
        behaviours = {result["behavior"], result["behaviorClose"]}
        worst = next((b for b in ("FAILED", "NON-STRICT", "UNCLEAN", "INFORMATIONAL")
                      if any(b in x for x in behaviours)), "OK")
        counts[worst] += 1
    return counts


def render(index: dict[str, dict[str, Any]], args: argparse.Namespace, suite: str) -> str:
    ours, base = index[OURS], index.get(BASELINE, {})
    lines = [
        "# RFC 6455 conformance",
        "",
        "Generated by `scripts/conformance`; do not edit by hand. Autobahn|Testsuite's fuzzingclient "
        f"({suite}, under Python 2.7) ran cases `{args.cases}` (12 and 13 are compression, which we do not "
        "offer) against `/echo` of `realtime-server serve --conformance-echo` and, in the same run, against a "
        "plain gevent-websocket echo server (`scripts/echo_baseline.py`) as the baseline.",
        "",
        "`/echo` is served by the same handshake, socket reader, frame parser, limits, outlet and close "
        "handling as `/ws`; only the connection actor is replaced by an echo (docs/protocol.md, "
        "\"Close codes\"). The run raises these limits so that the performance cases (9.*: messages of up "
        "to 16 MiB, up to 65,536 fragments, as fast as the server answers) can run at all:",
        "",
        "```",
        " ".join(f"{flag} {value}" for flag, value in LIMITS.items()),
        "```",
        "",
        "A case's result is the worse of Autobahn's two verdicts, on the frames (`behavior`) and on the "
        "closing handshake (`behaviorClose`). INFORMATIONAL cases have no right answer.",
        "",
        "## Summary",
        "",
        "| server | cases | OK | NON-STRICT | INFORMATIONAL | UNCLEAN | FAILED |",
        "|---|---|---|---|---|---|---|",
    ]
    for agent, cases in index.items():
        counts = tally(cases)
        lines.append(f"| {agent} | {len(cases)} | {counts['OK']} | {counts['NON-STRICT']} | "
                     f"{counts['INFORMATIONAL']} | {counts['UNCLEAN']} | {counts['FAILED']} |")
    perf = sorted((case for case in ours if case.startswith("9.")), key=case_key)
    if perf:
        ratios = [ours[c]["duration"] / max(base[c]["duration"], 1) for c in perf if c in base]
        lines += [
            "",
            "## Performance cases (9.*): time against the baseline",
            "",
            "Milliseconds from the client's first frame to the last echo, as Autobahn measured them on this "
            "machine (2 vCPUs, shared), ours and the baseline in the same run."
            + (f" Worst ratio: {max(ratios):.2f}x; goal: every case within {args.max_ratio:g}x." if ratios else ""),
            "",
            "| case | what | ours (ms) | baseline (ms) | ratio |",
            "|---|---|---|---|---|",
        ]
        for case in perf:
            mine, theirs = ours[case]["duration"], base.get(case, {}).get("duration")
            ratio = f"{mine / max(theirs, 1):.2f}" if theirs is not None else ""
            lines.append(f"| {case} | {ours[case]['description']} | {mine} | {theirs if theirs is not None else ''} "
                         f"| {ratio} |")
    lines += ["", "## Every case", "",
              "| case | ours | ours: close | baseline | baseline: close | our close code |",
              "|---|---|---|---|---|---|"]
    for case in sorted(ours, key=case_key):
        mine, theirs = ours[case], base.get(case, {})
        lines.append(f"| {case} | {mine['behavior']} | {mine['behaviorClose']} | {theirs.get('behavior', '')} | "
                     f"{theirs.get('behaviorClose', '')} | {mine.get('remoteCloseCode') or ''} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Autobahn|Testsuite against /echo and the baseline.")
    parser.add_argument("--wstest", required=True, help="the wstest command of the Python 2.7 environment")
    parser.add_argument("--cases", default=ALL_CASES, help=f"comma-separated case patterns (default {ALL_CASES})")
    parser.add_argument("--out", default=str(ROOT / "docs" / "conformance.md"), help="report file; - for none")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the whole suite may take")
    parser.add_argument("--max-ratio", type=float, default=2.0, help="9.* time against the baseline (--strict)")
    parser.add_argument("--strict", action="store_true", help="also fail on NON-STRICT or a slow 9.* case")
    parser.add_argument("--no-baseline", action="store_true", help="run the cases against our server only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        index = run(args, Path(tmp))
    ours = index[OURS]
    counts = tally(ours)
    if args.out != "-":
        Path(args.out).write_text(render(index, args, version(args.wstest)))
        print(f"conformance: wrote {args.out}")
    for agent, cases in index.items():
        print(f"conformance: {agent}: " + ", ".join(f"{n} {k}" for k, n in sorted(tally(cases).items())))
    bad = sorted((case for case, r in ours.items() if not {r["behavior"], r["behaviorClose"]} <= set(GOOD)),
                 key=case_key)
    for case in bad:
        print(f"conformance: {case}: {ours[case]['behavior']} / {ours[case]['behaviorClose']} "
              f"({ours[case]['description'][:100]})")
    slow = [case for case in ours if case.startswith("9.") and case in index.get(BASELINE, {})
            and ours[case]["duration"] > args.max_ratio * max(index[BASELINE][case]["duration"], 1)]
    for case in sorted(slow, key=case_key):
        print(f"conformance: {case} took {ours[case]['duration']} ms, more than {args.max_ratio:g}x the baseline's "
              f"{index[BASELINE][case]['duration']} ms")
    if counts["FAILED"]:
        return 1
    if args.strict and (counts["NON-STRICT"] or counts["UNCLEAN"] or slow):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
