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

With --sessions, what a session costs instead (a server reading with Keras, which gives
the hidden state a session's cache keeps):
  - p50 of /v1/suggest with a session against without, on one server at concurrency 1,
    the requests those of a user typing a story word by word (the whole text each time,
    --typing-gap-ms apart, as the page sends them after a pause in typing); the session's
    cache filled first (the text typed so far, longer than the cache, sent at once), and each request
    teaching it the word just finished, as typing does. The two alternate, in blocks, each
    round; the figure is the median of the rounds' ratios.
  - the memory of --session-count sessions, each holding a full cache (its ring of
    --session-positions hidden states written to, every page touched) and a typed text as
    long: the resident set of this process before and after, the sessions made by the
    server's own Sessions over the run's model (filled directly: teaching 1,000 sessions
    500 words each through the model would take the learning thread over half an hour),
    then as many more opened, the least recently used dropped, to show the bound holds.

    python -m word_predictor.train --logdir /tmp/serve-logs --run-name shipped --epochs 3
    python -m benchmarks.serve --run /tmp/serve-logs/shipped
    python -m benchmarks.serve --run /tmp/serve-logs/shipped --sessions
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

from benchmarks.common import REPO

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


async def user(server: Server, bodies: list[bytes], latencies: list[float], gap: float = 0.0) -> None:
    """One keep-alive connection sending `bodies` one after another, each timed, `gap`
    seconds apart (untimed)."""
    reader, writer = await asyncio.open_connection(server.host, int(server.port))
    head = f"POST /v1/suggest HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
    try:
        for body in bodies:
            await asyncio.sleep(gap)
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
    parser.add_argument("--sessions", action="store_true", help="measure what a session costs instead (see above)")
    parser.add_argument("--session-count", type=int, default=1000, help="sessions whose memory is measured")
    parser.add_argument("--session-positions", type=int, default=500, help="words each session keeps (default: 500)")
    parser.add_argument("--typing-gap-ms", type=float, default=120.0,
                        help="--sessions: the pause between a user's requests, untimed (default: 120, the page's "
                             "wait after a key; 0: back to back, the session's learning then overlaps the next "
                             "request)")  # fmt: skip
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.sessions:
        return sessions_main(args)
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


# ---------------------------------------------------------------- sessions


def typed_story(words: int) -> list[str]:
    """The texts a user typing the shipped stories sends after each word: the whole text so far."""
    text = " ".join(path.read_text(encoding="utf-8") for path in sorted((REPO / "corpus" / "stories").glob("*.txt")))
    tokens = text.split()[:words]
    return [" ".join(tokens[: end + 1]) + " " for end in range(len(tokens))]


def call(server: Server, method: str, path: str, body: dict | None = None) -> dict:
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{server.host}:{server.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.loads(answer.read() or b"{}")


def session_latency(server: Server, args) -> list[dict]:
    """Per round, each mode's p50 (ms) and the server's CPU per request (ms, learning included)."""
    story = typed_story(args.session_positions + args.requests)
    fill, typing = story[args.session_positions - 1], story[args.session_positions :]
    pairs = []
    for round_number in range(args.rounds):
        session = f"benchmark-{round_number}"
        # a full cache to mix in: the session starts on an empty box, then the text typed so far
        # comes at once (each request then adds a word to it)
        for text in ("", fill):
            call(server, "POST", "/v1/suggest", {"text": text, "session": session})
        kept = call(server, "GET", f"/v1/sessions/{session}")  # answered once the fill is learned
        p50, cpu = {}, {}
        for mode in (("plain", "session") if round_number % 2 == 0 else ("session", "plain")):
            bodies = [json.dumps({"text": text, "k": 3} | ({"session": session} if mode == "session" else {})).encode()
                      for text in typing]  # fmt: skip
            latencies: list[float] = []
            used = server.cpu_seconds()
            asyncio.run(user(server, bodies, latencies, args.typing_gap_ms / 1000))
            time.sleep(0.2)  # the last request's learning
            p50[mode], cpu[mode] = 1000 * statistics.median(latencies), 1000 * (server.cpu_seconds() - used) / len(bodies)
        pairs.append({"p50": p50, "cpu": cpu})
        print(f"round {round_number + 1}/{args.rounds}: {kept['positions']} positions cached; p50 "
              f"{p50['plain']:.2f} ms without, {p50['session']:.2f} ms with", file=sys.stderr)
    return pairs


def session_memory(run: Path, count: int, positions: int) -> tuple[float, float, float]:
    """(RSS MiB before, with `count` full sessions, after `count` more opened): this process."""
    import gc

    import numpy as np

    from benchmarks.common import current_rss_mib
    from word_predictor import engines
    from word_predictor.server.limits import Limits
    from word_predictor.server.sessions import Sessions

    _, predictor = engines.load_named(run, "keras")
    sessions = Sessions(predictor, Limits(sessions=count, session_positions=positions), busy_seconds=0)
    units = predictor.config.units
    story = typed_story(positions)[-1]
    random = np.random.default_rng(0)
    keys = [int(k) for k in random.integers(1, len(predictor.vocabulary), positions)]
    gc.collect()
    before = current_rss_mib()

    def fill(name: str) -> None:
        session = sessions.open(name)
        session.learner.cache.add(random.standard_normal((positions, units), np.float32),
                                  keys[:-20] + [f"{name}-word-{n}" for n in range(20)])  # fmt: skip
        session.typed = predictor.tokenize(story)  # its own strings, as a typed text's are

    for number in range(count):
        fill(f"user-{number}")
    gc.collect()
    full = current_rss_mib()
    for number in range(count, 2 * count):  # each drops the least recently used
        fill(f"user-{number}")
    gc.collect()
    assert len(sessions) == count
    return before, full, current_rss_mib()


def sessions_main(args) -> int:
    server = Server(args.run, "--engine", "keras", "--session-positions", str(args.session_positions))
    try:
        pairs = session_latency(server, args)
    finally:
        server.stop()
    ratios = [pair["p50"]["session"] / pair["p50"]["plain"] for pair in pairs]
    median = {(key, mode): statistics.median(pair[key][mode] for pair in pairs)
              for key in ("p50", "cpu") for mode in ("plain", "session")}  # fmt: skip
    print(f"/v1/suggest at concurrency 1, {args.run} on Keras, a story typed word by word ({args.requests} requests "
          f"a block, {args.typing_gap_ms:g} ms apart), {args.rounds} rounds: p50 without a session "
          f"{median['p50', 'plain']:.2f} ms, with {median['p50', 'session']:.2f} ms; with / without (median of the "
          f"rounds' ratios) {statistics.median(ratios):.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"server CPU per request {median['cpu', 'plain']:.2f} ms without, {median['cpu', 'session']:.2f} ms with "
          "(its learning included)")  # fmt: skip
    before, full, after = session_memory(args.run, args.session_count, args.session_positions)
    print(f"memory of {args.session_count:,} sessions of {args.session_positions} positions, each full: "
          f"{full - before:+.1f} MiB ({1024 * (full - before) / args.session_count:.0f} KiB a session); "
          f"after {args.session_count:,} more opened, the oldest dropped: {after - before:+.1f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
