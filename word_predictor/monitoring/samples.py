"""The text samples TensorBoard shows: prompts spread through the validation text,
their top next tokens and a sampled continuation of each, as markdown tables."""

from __future__ import annotations

import numpy as np

from word_predictor.batches.windows import WindowIndex
from word_predictor.config import DEFAULT_PROMPT, Config
from word_predictor.corpus.splits import Split
from word_predictor.predictor.generation import draw
from word_predictor.text.vocabulary import UNKNOWN_ID, Vocabulary

# TensorBoard's samples, per level: tokens in each prompt drawn from the validation text
# (None: the window size) and in each sampled continuation.
SAMPLE_LENGTHS = {"word": (None, 20), "char": (40, 200)}
SAMPLE_SEED = 0  # the same draws every epoch, so epochs differ only by what the model learnt


def sample_prompts(config: Config, validation: Split, vocabulary: Vocabulary, count: int = 3) -> list[str]:
    """The classic prompt, contexts spread through the validation split, and the user's.

    Contexts are runs of `window_size` tokens inside one validation segment (never
    two pieces of text glued together) without the unknown symbol.
    """
    prompts = [DEFAULT_PROMPT]
    length = SAMPLE_LENGTHS[config.level][0] or config.window_size
    windows = WindowIndex(validation.bounds, length)  # the starts are found, not listed: one a token
    for i in range(count):
        if windows.size == 0:
            break
        start = int(windows.starts(np.array([(i + 1) * windows.size // (count + 1)]))[0])
        window = validation.ids[start : start + length]
        if not np.any(window == UNKNOWN_ID):
            prompts.append(vocabulary.tokenizer.join(vocabulary.decode(window)))
    return list(dict.fromkeys(prompts + list(config.sample_prompts)))



def table(predictor, prompts: list[str], k: int = 5) -> str:
    """A markdown table: each prompt with its top-k next tokens and probabilities. The
    prompts are read together, in one call of the shape the continuations start with,
    rather than one call (and, the first time, one trace) each; a prompt that holds no
    token is left out."""
    rows = ["| context | top next words |", "|---|---|"]
    texts = [prompt for prompt in prompts if predictor.tokenize(prompt)]
    for suggestions in predictor.suggest_many(texts, k):
        shown = ", ".join(f"{_cell(word)} ({p:.3f})" for word, p in suggestions.predictions)
        rows.append(f"| {_cell(predictor.join(suggestions.context[-20:]))} | {shown} |")
    return "\n".join(rows)


def continuations(predictor, prompts: list[str], count: int | None = None, seed: int = SAMPLE_SEED) -> str:
    """A markdown table: each prompt with one continuation of `count` tokens drawn at
    temperature 1 with a fixed `seed`, all prompts sampled as one batch.

    A model whose outputs are not numbers (weights gone NaN mid-training) gets
    the reason in place of each continuation: the table is a view, never a failure.
    """
    count = count or SAMPLE_LENGTHS[predictor.config.level][1]
    contexts = [predictor.context_tokens(predictor.tokenize(prompt)) for prompt in prompts]
    contexts = [context for context in contexts if context]
    try:
        shown = [predictor.join(s.tokens) for s in draw(predictor.reader, predictor.vocabulary, predictor.begin_logits, contexts, count, rng=np.random.default_rng(seed))]
    except ValueError as error:  # sampling refuses NaN or +inf logits
        shown = [f"(none: {error})"] * len(contexts)
    unit = predictor.vocabulary.tokenizer.unit
    header = f"| context | sampled continuation ({count} {unit}s, temperature 1, seed {seed}) |"
    rows = [header, "|---|---|"]
    for context, continuation in zip(contexts, shown):
        rows.append(f"| {_cell(predictor.join(context[-20:]))} | {_cell(continuation)} |")
    return "\n".join(rows)

def samples_markdown(predictor, prompts: list[str]) -> str:
    """What TensorBoard shows for the prompts: the top-5 table, then sampled continuations."""
    return f"{table(predictor, prompts)}\n\n{continuations(predictor, prompts)}"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|")
