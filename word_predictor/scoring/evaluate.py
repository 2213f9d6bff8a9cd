"""Scoring a split through a reader: every figure of scoring.figures over every target."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from word_predictor.corpus.splits import Split
from word_predictor.scoring.figures import Tally, softmax, target_log_probabilities, target_ranks
from word_predictor.scoring.keyboard import PrefixIndex
from word_predictor.text.vocabulary import Vocabulary


class NothingToScore(ValueError):
    """The split holds no target the reader can score (too short, or empty)."""


def score(reader, split: Split, batch_size: int = 1024, vocabulary: Vocabulary | None = None) -> dict:
    """Perplexity and accuracies over every target `reader` scores in `split` (scores.Tally's
    figures); with the run's `vocabulary`, also the keystroke savings of a 3-suggestion
    keyboard over the targets that are not the unknown symbol."""
    keyboard = PrefixIndex(vocabulary.tokens) if vocabulary is not None else None
    tally = Tally()
    for logits, targets in read_ahead(reader.scored(split, batch_size)):
        if targets.size == 0:
            continue
        probabilities = softmax(logits)  # (batch, vocabulary)
        tally.add(
            target_log_probabilities(probabilities, targets),
            target_ranks(probabilities, targets),
            targets,
            keyboard.keystrokes(probabilities, targets) if keyboard else None,
        )
    if tally.tokens == 0:
        raise NothingToScore("no target has enough context before it in one segment")
    return tally.summary()


def read_ahead(items: Iterable) -> Iterator:
    """`items`, each made in a worker thread while the caller handles the one before: the
    model computes the next logits while NumPy scores these (both let go of the GIL), so
    on two cores scoring a long text costs about the model's time alone."""
    iterator, end = iter(items), object()
    with ThreadPoolExecutor(1, thread_name_prefix="scoring") as worker:
        pending = worker.submit(next, iterator, end)
        while (item := pending.result()) is not end:
            pending = worker.submit(next, iterator, end)
            yield item


def score_run(predictor, split: Split, batch_size: int = 1024) -> dict:
    """`score` for a loaded run: keystroke savings for a word run (a keyboard suggests words),
    and bits per word or per character (the usual char-RNN figure) named after its unit."""
    unit = predictor.vocabulary.tokenizer.unit
    scores = score(predictor.reader, split, batch_size, vocabulary=predictor.vocabulary if unit == "word" else None)
    scores[f"bits_per_{unit}"] = scores["bits_per_token"]
    return scores


def format_scores(scores: dict) -> str:
    """The figures as evaluate prints them, what a user sees first (keystrokes saved, the
    next word among 3 suggestions); perplexity with the share of unknown targets beside
    it, since a run that knows fewer words scores a lower one. None shows as n/a."""
    lines = []
    if "keystroke_savings" in scores:
        lines.append(
            f"keystrokes saved:  {_percent(scores['keystroke_savings'])}   "
            "(letters a 3-suggestion keyboard saves on known words)"
        )
    lines += [
        f"top-3 accuracy:    {_percent(scores['top3'])}   (the next {_unit(scores)} among 3 suggestions)",
        f"perplexity:        {scores['perplexity']:.2f}   ({scores['unknown_rate']:.1%} of targets unknown to the run, "
        "each scored as the unknown symbol: compare runs at similar shares)",
        f"tokens evaluated:  {scores['tokens']:,} ({scores['unknown_rate']:.1%} unknown)",
        f"top-1 accuracy:    {_percent(scores['top1'])}",
        f"top-5 accuracy:    {_percent(scores['top5'])}",
        f"known top-1:       {_percent(scores['known_top1'])}   (targets that are not the unknown symbol)",
        f"known top-5:       {_percent(scores['known_top5'])}",
    ]
    if "bits_per_character" in scores:
        lines.append(f"bits per character: {scores['bits_per_character']:.3f}   (log2 of the per-character perplexity)")
    if scores["known_tokens"] == 0:
        lines.append("every target is the unknown symbol: the text holds nothing the run knows")
    return "\n".join(lines)


def _unit(scores: dict) -> str:
    return next((unit for unit in ("word", "character") if f"bits_per_{unit}" in scores), "token")


def _percent(figure: float | None) -> str:
    return "n/a" if figure is None else f"{figure:.2%}"
