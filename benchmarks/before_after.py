"""Did a change make training faster or slower? The same training run from two commits,
alternated in one invocation, so slow spells of a shared machine hit both alike.

Each commit is checked out into a temporary worktree and trained from there as a
separate process (`python -m word_predictor.train`, the command a user runs), round by
round in alternating order. The figure of a run is the median `targets_per_second` of
its epoch lines after the first (which pays for tracing), its wall time, and its CPU
seconds (user + system of the training process, from the kernel): on a machine shared with
other work the wall-clock figures move with the load, the CPU seconds much less. A round's
ratio is the change's figure over the base's. The table gives the medians over rounds.

    python -m benchmarks.before_after --base d795730                 # default run on the shipped corpus
    python -m benchmarks.before_after --base d795730 --rounds 5 -- --context full --epochs 3
    python -m benchmarks.before_after --base 699360a --corpus TEXT -- --context full --layers 2 --units 200
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

FIGURES = ("seconds", "cpu_seconds", "targets_per_second")
EPOCH_RATE = re.compile(r"^Epoch (\d+)/\d+ .*targets_per_second: (\d+)", re.M)


def worktree(commit: str, folder: Path) -> Path:
    subprocess.run(["git", "-C", str(common.REPO), "worktree", "add", "--detach", "-q", str(folder), commit], check=True)
    return folder


def _env(checkout: Path) -> dict:
    """The child imports word_predictor from `checkout`, not from the installed (editable) copy."""
    return {**os.environ, "PYTHONPATH": str(checkout)}


def train_once(checkout: Path, logdir: Path, flags: list[str], corpus: str) -> dict:
    """One training run from `checkout`: its wall seconds and its epochs' targets per second."""
    command = [sys.executable, "-m", "word_predictor.train", "--corpus", corpus,
               "--logdir", str(logdir), "--no-cache", *flags]  # fmt: skip
    begin, cpu_begin = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, env=_env(checkout))
    seconds, cpu_seconds = time.perf_counter() - begin, _children_cpu() - cpu_begin
    if done.returncode != 0:
        raise SystemExit(f"benchmarks.before_after: training failed in {checkout}:\n{done.stderr[-2000:]}")
    rates = [int(rate) for epoch, rate in EPOCH_RATE.findall(done.stdout + done.stderr) if int(epoch) > 1]
    return {"seconds": seconds, "cpu_seconds": cpu_seconds,
            "targets_per_second": statistics.median(rates) if rates else None}  # fmt: skip


def _children_cpu() -> float:
    """User + system seconds of the finished child processes so far (one run at a time)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare against (the yardstick)")
    parser.add_argument("--change", default="HEAD", help="the commit measured")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each training once from both commits")
    parser.add_argument("--corpus", default=str(common.REPO / "corpus"), help="text to train on (default: corpus/)")
    parser.add_argument("flags", nargs="*", help="train flags after --, e.g. -- --epochs 3 --context full")
    args = parser.parse_args(argv)
    flags = args.flags or ["--epochs", "4", "--patience", "99"]
    rows: dict[str, list[dict]] = {"base": [], "change": []}
    with tempfile.TemporaryDirectory() as scratch:
        checkouts = {side: worktree(commit, Path(scratch, side)) for side, commit in
                     (("base", args.base), ("change", args.change))}  # fmt: skip
        try:
            for round_number in range(args.rounds):
                order = ["base", "change"] if round_number % 2 == 0 else ["change", "base"]
                for side in order:
                    logdir = Path(scratch, f"logs-{side}-{round_number}")
                    rows[side].append(train_once(checkouts[side], logdir, flags, args.corpus))
                    print(f"round {round_number + 1} {side}: {rows[side][-1]}", flush=True)
        finally:
            for folder in checkouts.values():
                subprocess.run(["git", "-C", str(common.REPO), "worktree", "remove", "--force", str(folder)])
    ratios = {
        key: [c[key] / b[key] for b, c in zip(rows["base"], rows["change"]) if b[key] and c[key]]
        for key in FIGURES
    }
    print(f"\nbase {args.base}, change {args.change}, {args.rounds} rounds, train flags: {' '.join(flags)}")
    print("| figure | base (median) | change (median) | change / base, median of rounds |")
    print("|---|---|---|---|")
    for key in FIGURES:
        base = [r[key] for r in rows["base"] if r[key]]
        change = [r[key] for r in rows["change"] if r[key]]
        if base and change and ratios[key]:
            print(f"| {key} | {statistics.median(base):,.1f} | {statistics.median(change):,.1f} | "
                  f"{statistics.median(ratios[key]):.3f} |")  # fmt: skip
    common.save_results("before_after", args, {"rows": rows, "ratios": ratios})
    return 0


if __name__ == "__main__":
    sys.exit(main())
