import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from word_predictor.corpus.splits import Split
from word_predictor.text.vocabulary import UNKNOWN_ID
from word_predictor.batches.windows import Shuffle, WindowBatches, WindowIndex, crop_context, gather_windows, window_starts
from word_predictor.scoring.reading import window_start_batches


def test_window_starts_stay_inside_segments():
    # segments of 7 and 4 tokens, chunk 3: windows 0..3 in the first, 7 in the second
    assert window_starts(np.array([[0, 7], [7, 11]]), 3).tolist() == [0, 1, 2, 3, 7]
    assert window_starts(np.array([[0, 3]]), 3).size == 0
    # bounds may point anywhere in a shared id array
    assert window_starts(np.array([[10, 14]]), 3).tolist() == [10]


def test_targets_follow_their_windows():
    ids = np.arange(100, 120, dtype=np.int32)
    windows = gather_windows(ids, np.array([0, 5]), 4)
    assert windows.tolist() == [[100, 101, 102, 103, 104], [105, 106, 107, 108, 109]]


def batches(ids, **kwargs):
    options = dict(window_size=3, batch_size=4, targets="all", shuffle=False)
    return WindowBatches(Split.from_lengths(ids, [ids.size]), **(options | kwargs))


def test_all_positions_targets_are_inputs_shifted_by_one():
    ids = np.arange(10, dtype=np.int32)
    inputs, targets = batches(ids)[0]
    assert inputs.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]
    assert targets.tolist() == [[1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6]]


def test_last_target_and_last_only_weights():
    ids = np.arange(10, dtype=np.int32)
    inputs, targets = batches(ids, targets="last")[1]
    assert inputs[0].tolist() == [4, 5, 6] and targets.tolist() == [7, 8, 9]
    inputs, targets, weights = batches(ids, last_only=True)[0]
    assert weights.tolist()[0] == [0.0, 0.0, 1.0] and weights.shape == (4, 3)
    last = batches(ids, last_only=True)
    assert len(last) == 2 and last[1][2].shape == (3, 3)  # 7 windows: 4 + 3


def test_shuffle_covers_every_window_each_epoch_and_changes_order():
    ids = np.arange(50, dtype=np.int32)
    data = batches(ids, shuffle=True, seed=1)
    def firsts():
        return np.concatenate([data[i][0][:, 0] for i in range(len(data))])
    epoch_one = firsts()
    data.on_epoch_end()
    epoch_two = firsts()
    assert sorted(epoch_one.tolist()) == sorted(epoch_two.tolist()) == list(range(47))
    assert epoch_one.tolist() != epoch_two.tolist()
    # the order is a function of (seed, epoch): a resumed run sees the same one
    resumed = batches(ids, shuffle=True, seed=1, epoch=1)
    assert np.concatenate([resumed[i][0][:, 0] for i in range(len(resumed))]).tolist() == epoch_two.tolist()


def test_crop_context_uses_last_tokens_and_pads_when_asked():
    assert crop_context(np.array([3, 1, 2, UNKNOWN_ID]), 3, pad=False).tolist() == [1, 2, UNKNOWN_ID]
    assert crop_context(np.array([1]), 3, pad=False).tolist() == [1]
    assert crop_context(np.array([1]), 3, pad=True).tolist() == [UNKNOWN_ID, UNKNOWN_ID, 1]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5000), st.integers(0, 3), st.integers(0, 3))
def test_shuffle_is_a_permutation_fixed_by_seed_and_epoch(n, seed, epoch):
    order = Shuffle(n, seed, epoch)[np.arange(n)]
    assert sorted(order.tolist()) == list(range(n))  # every window once per epoch
    assert Shuffle(n, seed, epoch)[np.arange(n)].tolist() == order.tolist()  # a resume sees the same
    if n > 20:
        assert Shuffle(n, seed, epoch + 1)[np.arange(n)].tolist() != order.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=8), st.integers(1, 6))
def test_window_index_gives_every_start_without_a_list_of_them(lengths, window_size):
    split = Split.from_lengths(np.arange(sum(lengths), dtype=np.int32), lengths)
    index = WindowIndex(split.bounds, window_size)
    expected = window_starts(split.bounds, window_size)
    assert index.size == expected.size
    assert index.starts(np.arange(index.size)).tolist() == expected.tolist()


def test_batches_hold_nothing_per_window():
    # a million windows: what the batches keep is a few numbers per segment
    split = Split.from_lengths(np.zeros(1_000_005, np.int32), [1_000_005])
    data = WindowBatches(split, window_size=5, batch_size=128, targets="all", shuffle=True, seed=3)
    held = [value.nbytes for value in vars(data).values() if isinstance(value, np.ndarray) and value is not split.ids]
    held += [value.nbytes for value in vars(data.index).values() if isinstance(value, np.ndarray)]
    assert data.windows == 1_000_000 and sum(held) < 10_000


# Segment lengths, some shorter than a window, some empty.
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



def _peak_allocated(function) -> int:
    """Bytes at the peak of what `function()` allocates (NumPy reports its arrays to tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        function()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_the_checks_before_training_list_no_window_of_a_large_split():
    # The training and validation splits of 10M tokens, in segments of 1,000: the checks that
    # they hold a window, the window batches and the start of a scored pass need only the
    # segments, never one number a window (80 MB here, 800 MB at 100M words).
    from word_predictor.batches.windows import WindowContext
    from word_predictor.config import Config
    from word_predictor.scoring.reading import window_start_batches

    split = Split.from_lengths(np.broadcast_to(np.int32(1), (10_000_000,)), [1000] * 10_000)
    context = WindowContext(Config(corpus=["unused"]))
    assert _peak_allocated(lambda: context.check_training_split(split)) < 2_000_000
    assert _peak_allocated(lambda: context.has_validation_targets(split)) < 2_000_000
    assert _peak_allocated(lambda: context.training_batches(split, epoch=0)[7]) < 2_000_000
    first = _peak_allocated(lambda: next(window_start_batches(split.bounds, 5, 1024)))
    assert first < 2_000_000


def test_window_start_batches_give_window_starts_in_order():
    bounds = np.array([[0, 7], [7, 8], [8, 20], [30, 34]])
    whole = window_starts(bounds, 3)
    for size in (1, 2, 5, 100):
        assert np.concatenate(list(window_start_batches(bounds, 3, size))).tolist() == whole.tolist()
    assert whole.tolist() == [0, 1, 2, 3, *range(8, 17), 30]
