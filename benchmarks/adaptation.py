"""Adaptation: evaluate against evaluate --adapt on one run, and a story of our own
making whose invented names no training text holds.

Evaluate: `python -m word_predictor.evaluate --run RUN --json [--text FILE]` against the
same with `--adapt KINDS`, for each of cache, dynamic and cache,dynamic, one process each,
alternated round by round; per kind the perplexity ratio (adapted / not), the keystroke
savings gained (points) and the wall-time ratio (whole processes, start-up included; the
plain evaluate process is the yardstick).

Story: the text below, its names outside every vocabulary, read word by word by a
Predictor that learns (predictor.adaptive, the cache's defaults) and by one that does
not: the keystrokes saved on the names alone (a 3-suggestion keyboard: letters typed,
then a pick), and the occurrences at which a name was offered after two letters at most.
And evaluate --adapt cache --text on the story: keystroke savings on every word.

    python -m benchmarks.adaptation --run /tmp/adapt-logs/RUN
    python -m benchmarks.adaptation --run logs/RUN --text ../shared/data/wikitext2-test.txt
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

KINDS = ("cache", "dynamic", "cache,dynamic")
NAMES = ("zorblax", "quillon", "mirrowen")
STORY = (
    "Zorblax lived at the end of the long road with his sister Quillon. Every morning Zorblax walked to the "
    "village market, and Quillon stayed at home to work in the garden. One day Zorblax met Mirrowen by the old "
    "church. Mirrowen sold bread and eggs from a small table under the trees. Zorblax bought two loaves of bread "
    "and took them home to Quillon. Quillon said that the bread from Mirrowen was the best in the village. "
    "The next Saturday Quillon went to the market with Zorblax, and they found Mirrowen at her table again. "
    "Mirrowen asked Quillon about the garden, and Quillon told her about the carrots and the onions. Zorblax "
    "carried the basket, and Mirrowen gave Zorblax a jar of honey for the long walk home. "
)


def evaluate_once(run: str, text: list[str], adapt: str | None) -> dict:
    argv = [sys.executable, "-m", "word_predictor.evaluate", "--run", run, "--json"]
    argv += ["--text", *text] if text else []
    argv += ["--adapt", adapt] if adapt else []
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=common.REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"benchmarks.adaptation: {' '.join(argv[1:])} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout) | {"wall_seconds": seconds}


def compare(run: str, text: list[str], rounds: int) -> list[dict]:
    """One row per kind: medians over `rounds` rounds, plain evaluate run in every round."""
    times = {kind: [] for kind in (None, *KINDS)}
    figures = {}
    for _ in range(rounds):
        for kind in (None, *KINDS):
            result = evaluate_once(run, text, kind)
            times[kind].append(result["wall_seconds"])
            figures[kind] = result
    plain_time = common.median(times[None])
    rows = []
    for kind in KINDS:
        both = figures[kind]
        adapted = both["adapted"]
        rows.append({
            "adapt": kind,
            "perplexity": both["perplexity"],
            "adapted perplexity": adapted["perplexity"],
            "perplexity ratio": adapted["perplexity"] / both["perplexity"],
            "keystrokes saved": both.get("keystroke_savings"),
            "adapted keystrokes saved": adapted.get("keystroke_savings"),
            "points gained": 100 * (adapted["keystroke_savings"] - both["keystroke_savings"])
            if both.get("keystroke_savings") is not None else None,
            "seconds": common.median(times[kind]),
            "time ratio": common.median(times[kind]) / plain_time,
        })  # fmt: skip
    return rows


def story_offers(run: str, learning: bool = True) -> dict:
    """The story read word by word by a Predictor that learns (or not: the plain run's
    answers), each invented name typed on a 3-suggestion keyboard: its cost (letters typed,
    then a pick once it is among the three suggestions or completions shown), and the
    occurrences (1 = first) at which its first two letters were completed to it."""
    from word_predictor import backend

    backend.select(None)
    from word_predictor.predictor.adaptive import AdaptivePredictor
    from word_predictor.rundir import load_run

    predictor = AdaptivePredictor.from_run(load_run(Path(run)))
    words = predictor.tokenize(STORY)
    seen = {name: 0 for name in NAMES}
    offered, letters, costs = {name: [] for name in NAMES}, 0, 0
    for position, word in enumerate(words):
        if word in seen:
            seen[word] += 1
            before = " ".join(words[max(0, position - 20) : position])
            cost = typing_cost(predictor, before, word)
            letters, costs = letters + len(word), costs + cost
            if cost <= 3:  # two letters typed, then picked
                offered[word].append(seen[word])
        if learning:
            predictor.learn(word + " ")
    return {"occurrences": seen, "offered at": offered, "savings": (letters - costs) / letters}


def typing_cost(predictor, before: str, word: str, shown: int = 3) -> int:
    """Keystrokes to type `word` after `before`: k letters and a pick, once it is shown."""
    if word in [w for w, _ in predictor.suggest_many([before], shown)[0].predictions]:  # may be empty
        return 1
    for typed in range(1, len(word)):
        if word in dict(predictor.complete_many([f"{before} {word[:typed]}"], shown)[0].completions):
            return typed + 1
    return len(word)


def main(argv: list[str] | None = None) -> int:
    parser = common.base_parser("evaluate against evaluate --adapt on one run")
    parser.add_argument("--run", required=True, help="a run folder")
    parser.add_argument("--text", nargs="+", help="files to evaluate on (default: the run's test split)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every process")
    args = parser.parse_args(argv)
    rows = compare(args.run, args.text or [], args.rounds)
    columns = ["adapt", "perplexity", "adapted perplexity", "perplexity ratio", "keystrokes saved",
               "adapted keystrokes saved", "points gained", "seconds", "time ratio"]  # fmt: skip
    table = common.print_table(rows, columns, f"evaluate --adapt on {args.text or 'the test split'}")
    with tempfile.TemporaryDirectory() as folder:
        story = Path(folder) / "story.txt"
        story.write_text(STORY, encoding="utf-8")
        on_story = evaluate_once(args.run, [str(story)], "cache")
    offers, unlearned = story_offers(args.run), story_offers(args.run, learning=False)
    words = len(re.findall(r"\w+", STORY))
    plain, adapted = on_story["keystroke_savings"], on_story["adapted"]["keystroke_savings"]
    print(f"\nstory ({words} words, read once): keystrokes saved {plain:.1%} without the cache, {adapted:.1%} "
          f"with it; on the invented names alone {unlearned['savings']:.1%} without, {offers['savings']:.1%} "
          "with")  # fmt: skip
    for name in NAMES:
        print(f"  {name}: {offers['occurrences'][name]} occurrences, completed after 2 letters at "
              f"{offers['offered at'][name]}")  # fmt: skip
    common.save_results("adaptation", args, {"rows": rows, "table": table, "story": on_story, "offers": offers,
                                             "offers_without_learning": unlearned})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
