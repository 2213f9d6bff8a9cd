"""Properties that hold for every input, checked on many generated ones (hypothesis).

normalise: idempotent, only the kept characters, single spaces, no word starting '-'.
Vocabulary: ids dense 0..n-1 with the unknown symbol at 0, independent of the order
counts arrive in, and exactly the words above the threshold.
Windows: every target is the word that follows its inputs in the text, and no
window crosses from one segment into the next.
split_segments: the splits together cover every token exactly once, in order.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor.corpus.splits import Split, SPLITS, split_segments
from word_predictor.text.vocabulary import UNKNOWN_ID, UNKNOWN_TOKEN, Vocabulary
from word_predictor.text.tokenizer import normalise, words
from word_predictor.batches.windows import WindowBatches, gather_windows, window_starts

# Text with plenty of what normalisation must handle: capitals, accents, other
# scripts, digits, punctuation, every kind of whitespace, leading hyphens.
_MESSY = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcXYZ'- -\t\n\r\x0b\x0c\u00a0\u2028\u3000éÉßİK中ж٣.,!?\"")),
        st.characters(codec="utf-8"),
    ),
    max_size=80,
)
_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz'-", min_size=1, max_size=8).filter(lambda w: w[0] != "-")


@settings(max_examples=300)
@given(_MESSY)
def test_normalise_is_idempotent_and_keeps_only_allowed_characters(text):
    once = normalise(text)
    assert normalise(once) == once
    assert re.fullmatch(r"[a-z' -]*", once)
    assert "  " not in once and once == once.strip()
    assert words(text) == (once.split(" ") if once else [])
    assert all(word and not word.startswith("-") for word in words(text))


@settings(max_examples=200)
@given(st.lists(_WORD, max_size=20), st.sampled_from([" ", "\n", "\t", "  \r\n "]))
def test_normalised_words_survive_normalisation_unchanged(word_list, separator):
    assert words(separator.join(word_list)) == word_list


@settings(max_examples=200)
@given(st.dictionaries(_WORD, st.integers(1, 50), max_size=30), st.integers(0, 10), st.randoms())
def test_vocabulary_ids_are_dense_stable_and_respect_the_threshold(counts, threshold, rng):
    vocabulary = Vocabulary.from_counts(counts, threshold)
    # Dense: every id 0..n-1 names one token, and that token maps back to it.
    assert vocabulary.tokens[UNKNOWN_ID] == UNKNOWN_TOKEN
    assert [vocabulary.id_of(token) for token in vocabulary.tokens] == list(range(len(vocabulary)))
    # Exactly the words seen more than `threshold` times are kept; the rest count as unknown.
    assert set(vocabulary.tokens[1:]) == {w for w, n in counts.items() if n > threshold}
    assert vocabulary.counts[UNKNOWN_ID] == sum(n for n in counts.values() if n <= threshold)
    assert list(vocabulary.counts[1:]) == sorted(vocabulary.counts[1:], reverse=True)
    for word in counts:
        expected = vocabulary.tokens.index(word) if counts[word] > threshold else UNKNOWN_ID
        assert vocabulary.id_of(word) == expected
    # Stable: the order the counts arrive in changes nothing, nor does a JSON round trip.
    shuffled = list(counts.items())
    rng.shuffle(shuffled)
    assert Vocabulary.from_counts(dict(shuffled), threshold) == vocabulary
    assert Vocabulary.from_json(vocabulary.to_json()) == vocabulary


_SEGMENTS = st.lists(st.integers(0, 30), min_size=0, max_size=8)


@settings(max_examples=200)
@given(_SEGMENTS, st.integers(1, 6))
def test_each_target_follows_its_inputs_within_one_segment(lengths, window_size):
    # Ids are positions in the text, so a window can be traced back to where it came from.
    ids = np.arange(sum(lengths), dtype=np.int32)
    segment_of = np.repeat(np.arange(len(lengths)), lengths)
    starts = window_starts(Split.from_lengths(ids, lengths).bounds, window_size)
    # Every window that fits in a segment, and no other.
    assert starts.size == sum(max(n - window_size, 0) for n in lengths)
    if starts.size == 0:
        return
    windows = gather_windows(ids, starts, window_size)  # (n, chunk + 1)
    assert windows.shape == (starts.size, window_size + 1)
    inputs, targets = windows[:, :-1], windows[:, -1]
    assert np.all(targets == inputs[:, -1] + 1)  # the target is the very next word
    assert np.all(np.diff(windows, axis=1) == 1)  # inputs are consecutive words
    assert np.all(segment_of[windows[:, 0]] == segment_of[windows[:, -1]])  # never across segments


@settings(max_examples=60, deadline=None)
@given(_SEGMENTS, st.integers(1, 4), st.integers(1, 7), st.sampled_from(["all", "last"]), st.integers(0, 3))
def test_batches_pair_each_input_with_its_next_words(lengths, window_size, batch_size, targets, epoch):
    ids = np.arange(sum(lengths), dtype=np.int32)
    batches = WindowBatches(
        Split.from_lengths(ids, lengths), window_size=window_size, batch_size=batch_size,
        targets=targets, shuffle=True, seed=7, epoch=epoch,
    )  # fmt: skip
    seen = []
    for index in range(len(batches)):
        inputs, expected = batches[index][:2]
        if targets == "all":
            assert np.all(expected == inputs + 1)
        else:
            assert np.all(expected == inputs[:, -1] + 1)
        seen.extend(inputs[:, 0].tolist())
    # One epoch shows every window exactly once.
    assert sorted(seen) == window_starts(Split.from_lengths(ids, lengths).bounds, window_size).tolist()


@settings(max_examples=200)
@given(
    st.integers(0, 5000),
    st.integers(1, 60),
    st.floats(0, 0.45, allow_nan=False),
    st.floats(0, 0.45, allow_nan=False),
)
def test_split_segments_cover_every_token_once_in_order(n_tokens, block, validation, test):
    segments = split_segments(n_tokens, block, validation, test)
    assert set(segments) == set(SPLITS)
    for pieces in segments.values():
        assert all(start < end for start, end in pieces)
        # In text order, and neighbouring blocks of one split are merged.
        assert all(a_end < b_start for (_, a_end), (b_start, _) in itertools.pairwise(pieces))
    everything = sorted(piece for pieces in segments.values() for piece in pieces)
    covered = [position for start, end in everything for position in range(start, end)]
    assert covered == list(range(n_tokens))


def test_split_segments_are_deterministic():
    assert split_segments(12345, 123, 0.1, 0.2) == split_segments(12345, 123, 0.1, 0.2)
    sizes = {
        name: sum(e - s for s, e in pieces) for name, pieces in split_segments(100_000, 1000, 0.1, 0.2).items()
    }
    assert abs(sizes["test"] / 100_000 - 0.2) < 0.05 and abs(sizes["validation"] / 100_000 - 0.1) < 0.05


def test_shuffled_order_depends_only_on_seed_and_epoch():
    # What lets a resumed run see the same batches as an uninterrupted one.
    ids = np.arange(200, dtype=np.int32)
    make = lambda epoch: WindowBatches(Split.from_lengths(ids, [200]), window_size=3, batch_size=8, targets="all",
                                       shuffle=True, seed=3, epoch=epoch)  # fmt: skip
    continued = make(0)
    continued.on_epoch_end()
    continued.on_epoch_end()
    assert np.array_equal(continued[0][0], make(2)[0][0])
    assert not np.array_equal(make(1)[0][0], make(2)[0][0])
