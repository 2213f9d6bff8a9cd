"""What predict's learning session shares: loading a run that learns (--adapt,
--interactive), the lines that say what was picked up, and the prompt's commands
(:learned, :forget). The learning itself is word_predictor.predictor.adaptive's."""

from __future__ import annotations

import argparse
import json
import sys

from word_predictor import backend, cli
from word_predictor.errors import UsageError, warn


def load(args: argparse.Namespace):
    """The run's Predictor; one that learns (predictor.adaptive) for --interactive and --adapt.
    An exported folder has no hidden state to cache: --adapt is refused, --interactive
    answers without learning."""
    from word_predictor.exporter.manifest import is_exported

    folder = cli.chosen_run(args.run, args.logdir)
    learning = args.interactive or args.adapt is not None
    if learning and is_exported(folder):
        if args.adapt is not None:
            raise UsageError(f"{folder} is an exported folder, whose graph gives out no hidden state for the "
                             "cache; --adapt needs the run folder it came from")  # fmt: skip
        warn(f"{folder} is an exported folder: it gives out no hidden state, so nothing typed is learned")
        learning = False
    if not learning:
        return cli.load_predictor(folder, args.backend)
    cache, _ = cli.adaptation_settings(args, ("cache",))
    backend.select(args.backend)
    from word_predictor.predictor.adaptive import AdaptivePredictor
    from word_predictor.rundir import load_run

    return AdaptivePredictor.from_run(load_run(folder), cache)


def learns(predictor) -> bool:
    return hasattr(predictor, "learn")


def announce(predictor, new_words: list[str]) -> None:
    """A line on stderr for each new word (a character run: character) picked up, beside
    the answers on stdout."""
    for word in new_words:
        print(cli.printable(f"learned a new {predictor.vocabulary.tokenizer.unit}: {word}"), file=sys.stderr,
              flush=True)  # fmt: skip


def prompt_command(predictor, line: str, as_json: bool) -> str | None:
    """The prompt's own commands: :learned (what the session has learned) and :forget."""
    if line.strip() == ":forget":
        predictor.forget()
        return json.dumps({"forgotten": True}) if as_json else "forgotten: nothing learned is kept"
    if line.strip() != ":learned":
        return None
    words = predictor.learned()
    positions = len(predictor.cache)
    if as_json:
        return json.dumps({"learned": dict(words.most_common()), "positions": positions})
    shown = ", ".join(f"{word} ({count})" for word, count in words.most_common()) or "none yet"
    unit = predictor.vocabulary.tokenizer.unit
    return f"learned: {positions} positions of text in the cache; new {unit}s: {shown}"
