"""The server under load: requests per second and p50/p99 latency of /v1/suggest at
concurrency 1, 8 and 64, with micro-batching and without (the yardstick), and the server's
memory over 20,000 requests.

Two servers (`python -m word_predictor.serve --port 0`, one with --no-batching) run
side by side in their own processes; each round measures every (mode, concurrency)
in turn, so a slow spell of the machine hits both modes alike; the figures are the
medians over rounds. The client is a minimal keep-alive HTTP/1.1 client on asyncio
(one connection per concurrent user, each sending its next request when the last is
answered), light enough that the server, not the client, is what is timed; it shares
the two cores with the server, as a client on the same machine would.

Beside them, the server's own CPU time per request (user + system, from /proc): on a
machine shared with other work the wall-clock figures depend on what else runs, this
one much less.

Memory: the batched server's resident set after a warm-up, then after 20,000 more
requests at concurrency 64 (every request checked answered).

    python -m word_predictor.train --logdir /tmp/serve-logs --run-name shipped --epochs 3
    python -m benchmarks.serve --run /tmp/serve-logs/shipped
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONCURRENCIES = (1, 8, 64)
TEXTS = ["some of them looks like", "the story of the", "once upon a time there was a", "it is not the",
         "she said that he would", "in the end they", "and then the little", "what do you think of"]  # fmt: skip


class Server:
    """A serve process on a free loopback port; `url` once it says where it listens."""

    def __init__(self, run: Path, *extra: str):
        command = [sys.executable, "-m", "word_predictor.serve", "--run", str(run), "--port", "0", *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("serving "):
            raise RuntimeError(f"the server did not start: {line!r}")
        address = line.split("http://", 1)[1].split("/", 1)[0]
        self.host, self.port = address.rsplit(":", 1)

    def resident_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


async def user(server: Server, bodies: list[bytes], latencies: list[float]) -> None:
    """One keep-alive connection sending `bodies` one after another, each timed."""
    reader, writer = await asyncio.open_connection(server.host, int(server.port))
    head = f"POST /v1/suggest HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
    try:
        for body in bodies:
            started = time.perf_counter()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status.startswith(b"HTTP/1.1 200") or b'"predictions"' not in answer:
                raise RuntimeError(f"request failed: {status!r} {answer[:200]!r}")
    finally:
        writer.close()


def measure(server: Server, concurrency: int, requests: int) -> dict:
    """Requests per second and latency percentiles (ms) of `requests` at `concurrency`."""
    share = requests // concurrency
    bodies = [json.dumps({"text": TEXTS[i % len(TEXTS)], "k": 3}).encode() for i in range(share)]
    latencies: list[float] = []

    async def main():
        await asyncio.gather(*(user(server, bodies[u % len(TEXTS):] + bodies[: u % len(TEXTS)], latencies)
                               for u in range(concurrency)))  # fmt: skip

    started, cpu = time.perf_counter(), server.cpu_seconds()
    asyncio.run(main())
    wall, cpu = time.perf_counter() - started, server.cpu_seconds() - cpu
    if len(latencies) != share * concurrency:
        raise RuntimeError(f"{share * concurrency - len(latencies)} requests unanswered")
    ordered = sorted(latencies)
    return {"rps": len(ordered) / wall, "p50": 1000 * ordered[len(ordered) // 2],
            "p99": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "cpu": 1000 * cpu / len(ordered)}  # fmt: skip


def memory(server: Server, requests: int) -> tuple[float, float]:
    measure(server, 64, 2000)  # warm: every buffer and cache grown once
    before = server.resident_mib()
    measure(server, 64, requests)
    return before, server.resident_mib()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="the run folder to serve")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the figures are medians (default: 3)")
    parser.add_argument("--requests", type=int, default=1024, help="requests per measurement (default: 1024)")
    parser.add_argument("--memory-requests", type=int, default=20_000,
                        help="requests between the two memory readings (default: 20,000; 0: skip)")
    parser.add_argument("--batch-wait-ms", default="0", help="the batched server's --batch-wait-ms (default: 0)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    servers = {"batched": Server(args.run, "--batch-wait-ms", args.batch_wait_ms),
               "unbatched": Server(args.run, "--no-batching")}  # fmt: skip
    try:
        figures = {(mode, c): [] for mode in servers for c in CONCURRENCIES}
        for round_number in range(args.rounds):
            for concurrency in CONCURRENCIES:
                for mode, server in servers.items():
                    requests = args.requests // 4 if concurrency == 1 else args.requests
                    figures[mode, concurrency].append(measure(server, concurrency, requests))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
        report(figures, args)
        if args.memory_requests:
            before, after = memory(servers["batched"], args.memory_requests)
            print(f"\nmemory of the batched server: {before:.1f} MiB after warm-up, {after:.1f} MiB after "
                  f"{args.memory_requests:,} more requests ({after - before:+.1f} MiB)")  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
    return 0


def report(figures: dict, args) -> None:
    print(f"/v1/suggest, k=3, {args.run}, --batch-wait-ms {args.batch_wait_ms}, medians of {args.rounds} rounds ({args.requests:,} requests each; "
          f"{args.requests // 4:,} at concurrency 1)")  # fmt: skip
    print(f"{'concurrency':>11}  {'mode':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'server CPU ms/req':>18}")
    median = {key: {name: statistics.median(f[name] for f in runs) for name in ("rps", "p50", "p99", "cpu")}
              for key, runs in figures.items()}  # fmt: skip
    for concurrency in CONCURRENCIES:
        for mode in ("batched", "unbatched"):
            m = median[mode, concurrency]
            print(f"{concurrency:>11}  {mode:<10} {m['rps']:>8.0f} {m['p50']:>8.2f} {m['p99']:>8.2f} {m['cpu']:>18.2f}")
        batched, unbatched = median["batched", concurrency], median["unbatched", concurrency]
        print(f"{'':>11}  batched / unbatched: requests per second {batched['rps'] / unbatched['rps']:.2f}x, "
              f"server CPU per request {batched['cpu'] / unbatched['cpu']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
