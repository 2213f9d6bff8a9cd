"""A trained model ready to answer: suggest, continue, and the TensorBoard sample table.

Loaded once, used by predict, evaluate, generate and the trainer's samples. It
reads text the way the run was trained (the vocabulary's own normalisation) and
asks the run's context (windows or the full text, see word_predictor.contexts)
for the logits of the next token, so no caller branches on how the model reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from word_predictor.config import Config
from word_predictor.contexts import context_for
from word_predictor.corpus import Split
from word_predictor.scores import softmax, top_k
from word_predictor.text import UNKNOWN_ID, Vocabulary, words
from word_predictor.windows import window_starts

DEFAULT_PROMPT = "some of them looks like"


class EmptyTextError(ValueError):
    """The text holds no token after normalisation."""


@dataclass
class Suggestions:
    context: list[str]  # the tokens the model reads
    unknown: list[str]  # tokens of the context outside the vocabulary
    predictions: list[tuple[str, float]]


class Predictor:
    """`model` is the run's inference view (what model.keras holds)."""

    def __init__(self, model, config: Config, vocabulary: Vocabulary):
        self.model = model
        self.config = config
        self.vocabulary = vocabulary
        self.reader = context_for(config).reader(model)

    @classmethod
    def from_run(cls, run) -> Predictor:
        return cls(run.model, run.config, run.vocabulary)

    def tokens(self, text: str) -> list[str]:
        return words(text)

    def context_tokens(self, tokens: list[str]) -> list[str]:
        """The tokens the model reads: the last window, or all of them."""
        return tokens[-self.config.window_size :] if self.config.context == "window" else tokens

    def suggest(self, text: str, top_k: int = 5, include_unknown: bool = False) -> Suggestions:
        tokens = self.tokens(text)
        if not tokens:
            raise EmptyTextError("the text has no words after normalisation")
        context = self.context_tokens(tokens)
        logits, _ = self.reader.start([self.vocabulary.encode(context)])
        probabilities = softmax(logits[0])
        best = self.top(probabilities, top_k, include_unknown)
        return Suggestions(
            context=context,
            unknown=list(dict.fromkeys(t for t in context if t not in self.vocabulary)),
            predictions=[(self.vocabulary.tokens[i], float(probabilities[i])) for i in best],
        )

    @staticmethod
    def top(probabilities: np.ndarray, k: int, include_unknown: bool = False) -> list[int]:
        return top_k(probabilities, k, exclude=() if include_unknown else (UNKNOWN_ID,))

    def continue_text(self, text: str, count: int) -> list[str]:
        """The `count` most likely tokens after `text`, each chosen after the last (greedy)."""
        tokens = self.tokens(text)
        if not tokens:
            raise EmptyTextError("the text has no words after normalisation")
        logits, state = self.reader.start([self.vocabulary.encode(self.context_tokens(tokens))])
        added: list[str] = []
        for _ in range(count):
            best = self.top(softmax(logits[0]), 1)[0]
            added.append(self.vocabulary.tokens[best])
            if len(added) < count:
                logits, state = self.reader.advance(state, np.array([best]))
        return added

    def table(self, prompts: list[str], k: int = 5) -> str:
        """A markdown table: each prompt with its top-k next tokens and probabilities."""
        rows = ["| context | top next words |", "|---|---|"]
        for prompt in prompts:
            try:
                suggestions = self.suggest(prompt, k)
            except EmptyTextError:
                continue
            shown = ", ".join(f"{word} ({p:.3f})" for word, p in suggestions.predictions)
            rows.append(f"| {' '.join(suggestions.context[-20:])} | {shown} |")
        return "\n".join(rows)


def sample_prompts(config: Config, validation: Split, vocabulary: Vocabulary, count: int = 3) -> list[str]:
    """The classic prompt, contexts spread through the validation split, and the user's.

    Contexts are runs of `window_size` tokens inside one validation segment (never
    two pieces of text glued together) without the unknown symbol.
    """
    prompts = [DEFAULT_PROMPT]
    starts = window_starts(validation.bounds, config.window_size)
    for i in range(count):
        if starts.size == 0:
            break
        start = starts[(i + 1) * starts.size // (count + 1)]
        window = validation.ids[start : start + config.window_size]
        if not np.any(window == UNKNOWN_ID):
            prompts.append(" ".join(vocabulary.decode(window)))
    return list(dict.fromkeys(prompts + list(config.sample_prompts)))
