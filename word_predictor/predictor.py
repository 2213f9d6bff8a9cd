"""A trained model ready to answer: suggest, complete, continue, sample, and the TensorBoard samples.

Loaded once, used by predict, generate, evaluate and the trainer's samples. It
reads text the way the run was trained (the vocabulary's own normalisation) and
asks the run's context (windows or the full text, see word_predictor.contexts)
for the logits of the next token, so no caller branches on how the model reads.

Text becomes tokens only in `tokens()` and tokens become text only in `join()`.

The start of a text: the vocabulary has no begin-of-text token, so the token
after an empty context is drawn from the unigram distribution, each token's
share of the training text (`begin_logits`); generation then reads that token
as its context and goes on as usual.

    empty prompt:  begin_logits --draw--> t1 --start([t1])--> logits --draw--> t2 --advance--> ...
    a prompt:      start(prompt) --> logits --draw--> t1 --advance--> logits --draw--> t2 ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from word_predictor.config import Config
from word_predictor.contexts import context_for
from word_predictor.corpus import Split
from word_predictor.sampling import check_settings, sample_batch
from word_predictor.scores import PrefixIndex, softmax, target_log_probabilities, top_k
from word_predictor.text import UNKNOWN_ID, Vocabulary
from word_predictor.windows import window_starts

DEFAULT_PROMPT = "some of them looks like"
# TensorBoard's samples, per level: tokens in each prompt drawn from the validation text
# (None: the window size) and in each sampled continuation.
SAMPLE_LENGTHS = {"word": (None, 20), "char": (40, 200)}
SAMPLE_SEED = 0  # the same draws every epoch, so epochs differ only by what the model learnt


class EmptyTextError(ValueError):
    """The text holds no token after normalisation."""


@dataclass
class Suggestions:
    context: list[str]  # the tokens the model reads
    unknown: list[str]  # tokens of the context outside the vocabulary
    predictions: list[tuple[str, float]]


@dataclass
class Completions:
    context: list[str]  # the tokens the model reads, before the prefix
    prefix: str  # the last token of the text: a word being typed
    unknown: list[str]
    completions: list[tuple[str, float]]  # probability renormalised over the words with the prefix


@dataclass
class Sample:
    tokens: list[str]  # what was written after the prompt
    log_probability: float  # natural log of the model's probability of `tokens` after the prompt
    stopped: bool  # ended at a stop token rather than at the length asked for


@dataclass
class Generation:
    context: list[str]
    unknown: list[str]
    samples: list[Sample]


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

    # ---------------------------------------------------------------- text <-> tokens

    def tokens(self, text: str) -> list[str]:
        """Text as the run's tokens: its own normalisation, words or characters."""
        return self.vocabulary.tokenizer.tokens(text)

    def join(self, tokens: Sequence[str]) -> str:
        return self.vocabulary.tokenizer.join(tokens)

    def context_tokens(self, tokens: list[str]) -> list[str]:
        """The tokens the model reads: the last window, or all of them."""
        return tokens[-self.config.window_size :] if self.config.context == "window" else tokens

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The tokens outside the vocabulary, each once, in order."""
        return list(dict.fromkeys(t for t in tokens if t not in self.vocabulary))

    # ---------------------------------------------------------------- the next token

    @cached_property
    def begin_logits(self) -> np.ndarray:
        """(vocabulary,) float32 logits of a text's first token: the log of each token's
        count in the training text (-inf for a count of 0)."""
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(self.vocabulary.counts, np.float64)).astype(np.float32)

    def next_logits(self, contexts: list[list[str]]) -> np.ndarray:
        """Token lists -> (batch, vocabulary) float32 logits of the token after each,
        in one call to the reader; an empty context gets `begin_logits`."""
        result = np.empty((len(contexts), len(self.vocabulary)), np.float32)
        rows = [i for i, context in enumerate(contexts) if context]
        if rows:
            logits, _ = self.reader.start([self.vocabulary.encode(contexts[i]) for i in rows])
            result[rows] = logits
        result[[i for i, context in enumerate(contexts) if not context]] = self.begin_logits
        return result

    @cached_property
    def keyboard(self) -> PrefixIndex:
        """The vocabulary by prefix (the unknown symbol never offered), built on first use."""
        return PrefixIndex(self.vocabulary.tokens, exclude=(UNKNOWN_ID,))

    @staticmethod
    def top(probabilities: np.ndarray, k: int, include_unknown: bool = False) -> list[int]:
        return top_k(probabilities, k, exclude=() if include_unknown else (UNKNOWN_ID,))

    # ---------------------------------------------------------------- suggest and complete

    def suggest(self, text: str, top_k: int = 5, include_unknown: bool = False) -> Suggestions:
        """The `top_k` likeliest next tokens after `text`; EmptyTextError if it holds none."""
        tokens = self.tokens(text)
        if not tokens:
            raise EmptyTextError("the text has no words after normalisation")
        return self._suggest([tokens], top_k, include_unknown)[0]

    def suggest_many(
        self, texts: Sequence[str], top_k: int = 5, include_unknown: bool = False
    ) -> list[Suggestions]:
        """`suggest` for each text, read through the model together; an empty text is
        answered from the start of a text (the commonest tokens of the training text)."""
        return self._suggest([self.tokens(text) for text in texts], top_k, include_unknown)

    def _suggest(self, token_lists: list[list[str]], k: int, include_unknown: bool) -> list[Suggestions]:
        contexts = [self.context_tokens(tokens) for tokens in token_lists]
        answers = []
        for context, probabilities in zip(contexts, softmax(self.next_logits(contexts))):
            best = self.top(probabilities, k, include_unknown)
            predictions = [(self.vocabulary.tokens[i], float(probabilities[i])) for i in best]
            answers.append(Suggestions(context, self.unknown(context), predictions))
        return answers

    def complete(self, text: str, top_k: int = 5) -> Completions:
        """The likeliest known words that start with the last token of `text`, given the
        tokens before it; EmptyTextError if the text holds no token."""
        tokens = self.tokens(text)
        if not tokens:
            raise EmptyTextError("the text has no words after normalisation")
        return self._complete([tokens], top_k)[0]

    def complete_many(self, texts: Sequence[str], top_k: int = 5) -> list[Completions]:
        """`complete` for each text, read together; an empty text completes the empty
        prefix at the start of a text (the commonest tokens)."""
        return self._complete([self.tokens(text) for text in texts], top_k)

    def _complete(self, token_lists: list[list[str]], k: int) -> list[Completions]:
        prefixes = [tokens[-1] if tokens else "" for tokens in token_lists]
        contexts = [self.context_tokens(tokens[:-1]) for tokens in token_lists]
        answers = []
        for context, prefix, probabilities in zip(contexts, prefixes, softmax(self.next_logits(contexts))):
            shown = self.keyboard.completions(probabilities, prefix, k)
            answers.append(Completions(context, prefix, self.unknown(context), shown))
        return answers

    # ---------------------------------------------------------------- continue and sample

    def complete_word(self, text: str, limit: int = 40) -> str:
        """A character run's likeliest end of the word being typed at the end of `text`
        (greedy, up to the first character that cannot be inside a word); "" if the
        text ends between words."""
        tokens = self.tokens(text)
        if not tokens or not _inside_word(tokens[-1]):
            return ""
        stop = [t for t in self.vocabulary.tokens[1:] if not _inside_word(t)]
        written = self.generate(text, limit, temperature=0, stop=stop).samples[0].tokens
        return self.join([t for t in written if _inside_word(t)])

    def continue_text(self, text: str, count: int) -> list[str]:
        """The `count` most likely tokens after `text`, each chosen after the last (greedy)."""
        if not self.tokens(text):
            raise EmptyTextError("the text has no words after normalisation")
        return self.generate(text, count, temperature=0).samples[0].tokens

    def generate(
        self,
        text: str,
        count: int,
        *,
        samples: int = 1,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Iterable[str] = (),
        include_unknown: bool = False,
        on_token: Callable[[int, str], None] | None = None,
    ) -> Generation:
        """`samples` continuations of `text`, up to `count` tokens each, drawn side by side.

        Each token is drawn with word_predictor.sampling (temperature 0 is greedy);
        `seed` fixes the draws. A sample ends early once it writes a token of `stop`
        (which it keeps). The unknown symbol is never written unless `include_unknown`.
        An empty text starts from the start of a text (see the module docstring).
        `on_token(sample, token)` is called for each token as soon as it is chosen.
        """
        check_settings(temperature, top_k, top_p)
        if count < 1 or samples < 1:
            raise ValueError(f"count and samples must be at least 1, got {count} and {samples}")
        stop = list(stop)
        missing = [token for token in stop if token not in self.vocabulary]
        if missing:
            raise ValueError(f"stop token {missing[0]!r} is not in the vocabulary, so it is never written")
        stop_ids = [self.vocabulary.id_of(token) for token in stop]
        context = self.context_tokens(self.tokens(text))
        drawn = self._sample(
            [context] * samples, count, rng=np.random.default_rng(seed), stop_ids=stop_ids,
            exclude=() if include_unknown else (UNKNOWN_ID,), on_token=on_token,
            temperature=temperature, top_k=top_k, top_p=top_p,
        )  # fmt: skip
        return Generation(context, self.unknown(context), drawn)

    def _sample(
        self,
        contexts: list[list[str]],
        count: int,
        *,
        rng: np.random.Generator,
        stop_ids: Sequence[int] = (),
        exclude: Sequence[int] = (UNKNOWN_ID,),
        on_token: Callable[[int, str], None] | None = None,
        **settings,
    ) -> list[Sample]:
        """One sample per context (all empty or none), the rows read as one batch.

        A row that has stopped is still advanced with the others (the batch keeps
        its shape) but writes nothing more.
        """
        rows = len(contexts)
        if rows == 0:
            return []
        if any(contexts) and not all(contexts):
            raise ValueError("contexts sampled together must all be empty or all hold tokens")
        written: list[list[str]] = [[] for _ in range(rows)]
        log_probability = np.zeros(rows)
        running = np.ones(rows, bool)
        stopped = np.zeros(rows, bool)
        state = None
        if contexts[0]:
            logits, state = self.reader.start([self.vocabulary.encode(c) for c in contexts])
        else:
            logits = np.tile(self.begin_logits, (rows, 1))
        for step in range(count):
            ids = sample_batch(logits, exclude=exclude, rng=rng, **settings)  # (rows,)
            chosen = target_log_probabilities(softmax(logits), ids)  # the model's, before temperature
            for row in np.flatnonzero(running):
                token = self.vocabulary.tokens[ids[row]]
                written[row].append(token)
                log_probability[row] += chosen[row]
                if on_token is not None:
                    on_token(int(row), token)
            stopped |= running & np.isin(ids, stop_ids)
            running &= ~stopped
            if step + 1 == count or not running.any():
                break
            ids = ids.astype(np.int32)
            if state is None:  # the first token of an empty context becomes its context
                logits, state = self.reader.start([ids[row : row + 1] for row in range(rows)])
            else:
                logits, state = self.reader.advance(state, ids)
        return [Sample(written[row], float(log_probability[row]), bool(stopped[row])) for row in range(rows)]

    # ---------------------------------------------------------------- TensorBoard samples

    def table(self, prompts: list[str], k: int = 5) -> str:
        """A markdown table: each prompt with its top-k next tokens and probabilities."""
        rows = ["| context | top next words |", "|---|---|"]
        for prompt in prompts:
            try:
                suggestions = self.suggest(prompt, k)
            except EmptyTextError:
                continue
            shown = ", ".join(f"{_cell(word)} ({p:.3f})" for word, p in suggestions.predictions)
            rows.append(f"| {_cell(self.join(suggestions.context[-20:]))} | {shown} |")
        return "\n".join(rows)

    def continuations(self, prompts: list[str], count: int | None = None, seed: int = SAMPLE_SEED) -> str:
        """A markdown table: each prompt with one continuation of `count` tokens drawn at
        temperature 1 with a fixed `seed`, all prompts sampled as one batch.

        A model whose outputs are not numbers (weights gone NaN mid-training) gets
        the reason in place of each continuation: the table is a view, never a failure.
        """
        count = count or SAMPLE_LENGTHS[self.config.level][1]
        contexts = [self.context_tokens(self.tokens(prompt)) for prompt in prompts]
        contexts = [context for context in contexts if context]
        try:
            shown = [self.join(s.tokens) for s in self._sample(contexts, count, rng=np.random.default_rng(seed))]
        except ValueError as error:  # sampling refuses NaN or +inf logits
            shown = [f"(none: {error})"] * len(contexts)
        unit = self.vocabulary.tokenizer.unit
        header = f"| context | sampled continuation ({count} {unit}s, temperature 1, seed {seed}) |"
        rows = [header, "|---|---|"]
        for context, continuation in zip(contexts, shown):
            rows.append(f"| {_cell(self.join(context[-20:]))} | {_cell(continuation)} |")
        return "\n".join(rows)

    def samples_markdown(self, prompts: list[str]) -> str:
        """What TensorBoard shows for the prompts: the top-5 table, then sampled continuations."""
        return f"{self.table(prompts)}\n\n{self.continuations(prompts)}"


def _inside_word(token: str) -> bool:
    return token.isalnum() or token in "'-"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|")


def sample_prompts(config: Config, validation: Split, vocabulary: Vocabulary, count: int = 3) -> list[str]:
    """The classic prompt, contexts spread through the validation split, and the user's.

    Contexts are runs of `window_size` tokens inside one validation segment (never
    two pieces of text glued together) without the unknown symbol.
    """
    prompts = [DEFAULT_PROMPT]
    length = SAMPLE_LENGTHS[config.level][0] or config.window_size
    starts = window_starts(validation.bounds, length)
    for i in range(count):
        if starts.size == 0:
            break
        start = starts[(i + 1) * starts.size // (count + 1)]
        window = validation.ids[start : start + length]
        if not np.any(window == UNKNOWN_ID):
            prompts.append(vocabulary.tokenizer.join(vocabulary.decode(window)))
    return list(dict.fromkeys(prompts + list(config.sample_prompts)))
