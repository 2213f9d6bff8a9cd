"""A trained model ready to answer: suggest, complete, continue, sample, and the TensorBoard samples.

Loaded once, used by predict, generate, evaluate and the trainer's samples. It
reads text the way the run was trained (the vocabulary's own normalisation) and
asks the run's context (windows or the full text, see word_predictor.batches)
for the logits of the next token, so no caller branches on how the model reads.

Text becomes tokens only in `tokenize()` and tokens become text only in `join()`.

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

from word_predictor.batches.kinds import kind_of
from word_predictor.config import Config
from word_predictor.errors import AdaptationUnavailable, EmptyTextError
from word_predictor.predictor.completion import CharacterBeam, typed_word
from word_predictor.predictor.generation import Generation, draw
from word_predictor.scoring.figures import softmax, top_k
from word_predictor.scoring.keyboard import PrefixIndex
from word_predictor.scoring.sampling import check_settings
from word_predictor.text.vocabulary import UNKNOWN_ID, Vocabulary

__all__ = ["Completions", "EmptyTextError", "Predictor", "Suggestions"]


@dataclass
class Suggestions:
    context: list[str]  # the tokens the model reads
    unknown: list[str]  # tokens of the context outside the vocabulary
    predictions: list[tuple[str, float]]


@dataclass
class Completions:
    context: list[str]  # the tokens the model reads, before the prefix
    prefix: str  # the word being typed: the last word, or a character run's last letters
    unknown: list[str]
    # word level: probability renormalised over the words with the prefix; char level:
    # the model's probability that the word being typed is this one (see completion.py)
    completions: list[tuple[str, float]]


class Predictor:
    """A reader (see word_predictor.batches: `start`, `advance`, `scored`) and the run's
    config and vocabulary. The reader is the engine: a Keras model's for a run, or
    another engine's with the same three methods; nothing here imports Keras."""

    def __init__(self, reader, config: Config, vocabulary: Vocabulary, hidden: Callable[[], object] | None = None):
        self.reader = reader
        self.config = config
        self.context = kind_of(config)  # what the model reads of a text
        self.vocabulary = vocabulary
        self._engine = _ReadOnce(reader)  # what suggest, complete and generate read through
        self._hidden = hidden  # makes the hidden reader (see hidden_reader), or None where the engine has none

    @classmethod
    def for_model(cls, model, config: Config, vocabulary: Vocabulary) -> Predictor:
        """`model` is a run's inference view (what model.keras holds)."""
        from word_predictor.batches import context_for  # Keras loads here, only for a Keras model

        def hidden():
            from word_predictor.adaptation.hidden import hidden_view

            return context_for(config).reader(hidden_view(model))

        return cls(context_for(config).reader(model), config, vocabulary, hidden)

    @classmethod
    def from_run(cls, run) -> Predictor:
        return cls.for_model(run.model, run.config, run.vocabulary)

    def hidden_reader(self):
        """A reader like `reader` whose logits carry the last layer's output appended
        (word_predictor.adaptation.hidden), made once, for the continuous cache;
        AdaptationUnavailable where this engine's model gives no hidden state."""
        if self._hidden is None:
            raise AdaptationUnavailable(
                "this model gives out no hidden state, which learning from the text needs; "
                "export the run again (python -m word_predictor.export), or read its run folder"
            )
        if not hasattr(self, "_hidden_reader"):
            self._hidden_reader = self._hidden()
        return self._hidden_reader

    # ---------------------------------------------------------------- text <-> tokens

    def tokenize(self, text: str) -> list[str]:
        """Text as the run's tokens: its own normalisation, words or characters."""
        return self.vocabulary.tokenizer.tokens(text)

    def tokens_of(self, text: str) -> list[str]:
        """`tokenize(text)`, or EmptyTextError if it holds no token: the one place that says so."""
        tokens = self.tokenize(text)
        if not tokens:
            raise EmptyTextError(f"the text has no {self.vocabulary.tokenizer.unit}s after normalisation")
        return tokens

    def join(self, tokens: Sequence[str]) -> str:
        return self.vocabulary.tokenizer.join(tokens)

    def context_tokens(self, tokens: list[str]) -> list[str]:
        """The tokens the model reads: the last window, or all of them."""
        return self.context.cut(tokens)

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
            logits, _ = self._engine.start([self.vocabulary.encode(contexts[i]) for i in rows])
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
        return self._suggest([self.tokens_of(text)], top_k, include_unknown)[0]

    def suggest_many(
        self, texts: Sequence[str], top_k: int = 5, include_unknown: bool = False
    ) -> list[Suggestions]:
        """`suggest` for each text, read through the model together; an empty text is
        answered from the start of a text (the commonest tokens of the training text)."""
        return self._suggest([self.tokenize(text) for text in texts], top_k, include_unknown)

    def _suggest(self, token_lists: list[list[str]], k: int, include_unknown: bool) -> list[Suggestions]:
        contexts = [self.context_tokens(tokens) for tokens in token_lists]
        answers = []
        for context, probabilities in zip(contexts, softmax(self.next_logits(contexts))):
            best = self.top(probabilities, k, include_unknown)
            predictions = [(self.vocabulary.tokens[i], float(probabilities[i])) for i in best]
            answers.append(Suggestions(context, self.unknown(context), predictions))
        return answers

    def complete(self, text: str, top_k: int = 5) -> Completions:
        """The likeliest ends of the word being typed at the end of `text` (see
        predictor.completion); EmptyTextError if the text holds no token."""
        return self._complete([self.tokens_of(text)], top_k)[0]

    def complete_many(self, texts: Sequence[str], top_k: int = 5) -> list[Completions]:
        """`complete` for each text; an empty text completes the empty prefix at the
        start of a text (the commonest words)."""
        return self._complete([self.tokenize(text) for text in texts], top_k)

    def _complete(self, token_lists: list[list[str]], k: int) -> list[Completions]:
        return getattr(self, _COMPLETIONS[self.config.level])(token_lists, k)  # a subclass's own, if it has one

    def _complete_words(self, token_lists: list[list[str]], k: int) -> list[Completions]:
        """Word level: the known words that start with the last word, read together."""
        prefixes = [tokens[-1] if tokens else "" for tokens in token_lists]
        contexts = [self.context_tokens(tokens[:-1]) for tokens in token_lists]
        answers = []
        for context, prefix, probabilities in zip(contexts, prefixes, softmax(self.next_logits(contexts))):
            shown = self.keyboard.completions(probabilities, prefix, k)
            answers.append(Completions(context, prefix, self.unknown(context), shown))
        return answers

    def _complete_characters(self, token_lists: list[list[str]], k: int) -> list[Completions]:
        """Char level: a beam over characters to the next word boundary, one text at a time."""
        answers = []
        for tokens in token_lists:
            prefix = typed_word(tokens)
            context = self.context_tokens(tokens)
            shown = self.character_beam.complete(context, prefix, k)
            before = context[: len(context) - len(prefix)]
            answers.append(Completions(before, prefix, self.unknown(context), shown))
        return answers

    @cached_property
    def character_beam(self) -> CharacterBeam:
        return CharacterBeam(self._engine, self.vocabulary, self.begin_logits)

    # ---------------------------------------------------------------- continue and sample

    def continue_text(self, text: str, count: int) -> list[str]:
        """The `count` most likely tokens after `text`, each chosen after the last (greedy)."""
        self.tokens_of(text)
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

        Each token is drawn with word_predictor.scoring.sampling (temperature 0 is greedy);
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
        context = self.context_tokens(self.tokenize(text))
        drawn = draw(
            self._engine, self.vocabulary, self.begin_logits, [context] * samples, count,
            rng=np.random.default_rng(seed), stop_ids=stop_ids, exclude=() if include_unknown else (UNKNOWN_ID,),
            on_token=on_token,
            temperature=temperature, top_k=top_k, top_p=top_p,
        )  # fmt: skip
        return Generation(context, self.unknown(context), drawn)


class _ReadOnce:
    """The reader, with its last `start` remembered: predict's suggestions, its
    Prediction line, its continuation and the word being typed all start from the same
    text, which a character run would otherwise read (all of it) once for each.
    A Predictor's weights never change under it (the trainer makes one per epoch)."""

    def __init__(self, reader):
        self._reader, self._last = reader, None

    def start(self, contexts: list[np.ndarray]):
        key = tuple(np.asarray(c, np.int32).tobytes() for c in contexts)
        last = self._last  # read once: the server's threads may each replace it meanwhile
        if last is None or last[0] != key:
            last = (key, self._reader.start(contexts))
            self._last = last
        return last[1]

    def __getattr__(self, name: str):  # advance, select, scored: the reader's own
        return getattr(self._reader, name)


# How each level completes the word being typed.
_COMPLETIONS = {"word": "_complete_words", "char": "_complete_characters"}
