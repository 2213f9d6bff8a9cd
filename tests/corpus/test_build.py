import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import REPO, SHARED_DATA, write
from word_predictor.corpus.files import CorpusError, find_text_files
from word_predictor.corpus.counting import CountTable
from word_predictor.corpus.build import build_corpus, encode_files
from word_predictor.corpus.splits import split_segments, window_block_size
from word_predictor.text.tokenizer import ASCII_WORDS, CHARACTERS, UNICODE_WORDS
from word_predictor.text.vocabulary import UNKNOWN_ID, Vocabulary

def corpus_of(paths, **settings):
    """build_corpus with the settings most tests share."""
    arguments = dict(tokenizer=UNICODE_WORDS, unknown_threshold=0, validation_fraction=0.1, test_fraction=0.2,
                     block_size=window_block_size(3), min_tokens=4)  # fmt: skip
    return build_corpus(paths, **{**arguments, **settings})


def all_ids(corpus) -> np.ndarray:
    return np.asarray(corpus.splits["train"].ids)  # one array shared by every split


class RecordedProgress:
    def __init__(self):
        self.calls = []

    def start(self, label, total):
        self.calls.append(("start", label, total))

    def advance(self, amount):
        self.calls.append(("advance", amount))

    def finish(self):
        self.calls.append(("finish",))


# ---------------------------------------------------------------- build_corpus


def test_vocabulary_comes_from_training_split_only(tmp_path):
    tokens = ("the cat sat on the mat " * 400).split()
    test_spans = split_segments(len(tokens), 3, 0.1, 0.2)["test"]
    for start, end in test_spans:
        tokens[start] = "zebra"  # a word seen only in the test split
    write(tmp_path / "a.txt", " ".join(tokens))
    corpus = corpus_of([tmp_path])
    assert "zebra" not in corpus.vocabulary
    assert set(corpus.vocabulary.tokens) == {"<unk>", "the", "cat", "sat", "on", "mat"}
    assert corpus.token_count == len(tokens)
    test = corpus.splits["test"]
    assert sum(int(np.sum(segment == UNKNOWN_ID)) for segment in test.segments()) == len(test_spans)
    for split in corpus.splits.values():
        assert split.segment_lengths.sum() == split.token_count
    # the train split decodes back to the text of its first segment
    first = corpus.splits["train"].segment_lengths[0]
    assert corpus.vocabulary.decode(corpus.splits["train"].ids[:first]) == tokens[:first]


def test_words_below_threshold_become_unknown(tmp_path):
    write(tmp_path / "a.txt", "apple banana " * 50 + "cherry")
    corpus = corpus_of([tmp_path], unknown_threshold=3, validation_fraction=0.0, test_fraction=0.0)
    assert "cherry" not in corpus.vocabulary
    assert corpus.splits["train"].ids[-1] == UNKNOWN_ID


def test_corpus_shorter_than_the_minimum_is_refused_with_the_fix(tmp_path):
    write(tmp_path / "a.txt", "only four words here")
    with pytest.raises(CorpusError, match=r"has 4 word\(s\) after normalisation, fewer than the 6 needed.*"
                                          r"add text or shorten the context"):  # fmt: skip
        corpus_of([tmp_path], min_tokens=6)
    with pytest.raises(CorpusError, match=r"has 20 character\(s\)"):
        corpus_of([tmp_path], tokenizer=CHARACTERS, min_tokens=21)


def test_the_store_holds_what_encoding_the_whole_text_gives(tmp_path):
    write(tmp_path / "corpus" / "a.txt", "The cat — it sat.\r\nOn the mat, don’t you see?\n" * 30)
    write(tmp_path / "corpus" / "b" / "c.txt", "Naïve cafés: the dog sat on the rug.\n" * 20)
    corpus = corpus_of([tmp_path / "corpus"], unknown_threshold=1, cache_dir=tmp_path / "cache")
    files = find_text_files([tmp_path / "corpus"])
    expected = np.concatenate(
        [corpus.vocabulary.encode(UNICODE_WORDS.tokens(f.read_text(encoding="utf-8"))) for f in files]
    )
    assert isinstance(corpus.splits["train"].ids, np.memmap)
    assert all_ids(corpus).tolist() == expected.tolist() and all_ids(corpus).dtype == np.int32
    assert corpus.files == [str(f) for f in files]


def test_a_tiny_read_buffer_and_tiny_pieces_give_the_same_corpus(tmp_path):
    text = "".join(f"word{i % 37} café{i % 5}\n" if i % 3 else f"line{i % 11} " for i in range(3000))
    write(tmp_path / "a.txt", text)
    reference = corpus_of([tmp_path])
    tiny = corpus_of([tmp_path], read_size=7, piece_size=50)
    assert tiny.vocabulary == reference.vocabulary
    assert all_ids(tiny).tolist() == all_ids(reference).tolist()


def test_two_workers_give_the_same_corpus_as_one(tmp_path):
    for number in range(3):
        write(tmp_path / f"{number}.txt", " ".join(f"w{(i * 7 + number) % 101}" for i in range(5000)) + "\n")
    one = corpus_of([tmp_path], piece_size=4096, workers=1, count_limit=64)
    two = corpus_of([tmp_path], piece_size=4096, workers=2, count_limit=64)
    assert one.vocabulary == two.vocabulary
    assert all_ids(one).tolist() == all_ids(two).tolist()
    # Text read in the corpus' vocabulary (evaluate's --text): the workers get it from the reader.
    by_one = encode_files([tmp_path], one.vocabulary, piece_size=4096, workers=1)
    by_two = encode_files([tmp_path], one.vocabulary, piece_size=4096, workers=2)
    assert np.asarray(by_two.ids).tolist() == np.asarray(by_one.ids).tolist()
    assert by_two.segment_lengths.tolist() == by_one.segment_lengths.tolist() == [5000] * 3


def test_max_vocabulary_keeps_the_most_frequent_words(tmp_path):
    write(tmp_path / "a.txt", "a " * 50 + "b " * 40 + "c " * 30 + "d " * 30 + "e " * 20 + "rare")
    corpus = corpus_of([tmp_path], max_vocabulary=3, validation_fraction=0, test_fraction=0)
    assert corpus.vocabulary.tokens == ("<unk>", "a", "b", "c")  # c before d: ties by code point
    assert corpus.vocabulary.counts == (30 + 20 + 1, 50, 40, 30)
    assert corpus.vocabulary.max_size == 3
    assert int(np.sum(all_ids(corpus) == UNKNOWN_ID)) == 51


def test_a_char_level_corpus(tmp_path):
    text = "Hello, World!\r\nHello again.\tBye\x07\n" * 40
    write(tmp_path / "a.txt", text)
    corpus = corpus_of([tmp_path], tokenizer=CHARACTERS, validation_fraction=0, test_fraction=0,
                       cache_dir=tmp_path / "cache")  # fmt: skip
    vocabulary = corpus.vocabulary
    assert (vocabulary.level, vocabulary.tokenizer) == ("char", CHARACTERS)
    assert {"H", "e", "W", ",", "!", "\n", " "} <= set(vocabulary.tokens) and "\r" not in vocabulary
    assert vocabulary.tokenizer.join(vocabulary.decode(all_ids(corpus))) == CHARACTERS.normalise(text)


def test_count_table_overflow_that_cannot_change_the_vocabulary(tmp_path, capsys):
    # Frequent words among more singletons than the table holds: it overflows once and
    # drops only entries seen once, so the floor stays at 1 <= the threshold: nothing lost.
    rng = random.Random(0)
    frequent = [f"common{i}" for i in range(20)]
    text = " ".join(rng.choice(frequent) if i % 2 else f"once{i}" for i in range(3000))
    write(tmp_path / "a.txt", text)
    exact = corpus_of([tmp_path], unknown_threshold=1)
    bounded = corpus_of([tmp_path], unknown_threshold=1, count_limit=1000, piece_size=2000)
    assert bounded.vocabulary == exact.vocabulary
    assert all_ids(bounded).tolist() == all_ids(exact).tolist()
    assert capsys.readouterr().err == ""


def test_only_distinct_words_keep_counting_memory_bounded(tmp_path, capsys):
    rng = random.Random(1)
    distinct = [f"{rng.getrandbits(48):012x}" for _ in range(20_000)]
    table = CountTable(limit=500)
    for first in range(0, len(distinct), 300):
        chunk = distinct[first : first + 300]
        table.merge(chunk, [1] * len(chunk))
        assert len(table) <= 500
    assert table.peak <= 500 and table.floor >= 1
    # build_corpus on the same text: it still builds, and says what may be missing.
    write(tmp_path / "a.txt", " ".join(distinct + ["the", "cat"] * 500))
    corpus = corpus_of([tmp_path], unknown_threshold=1, count_limit=500, piece_size=4096)
    assert set(corpus.vocabulary.tokens) == {"<unk>", "the", "cat"}
    err = capsys.readouterr().err
    assert "more distinct words than the 500 counted at once, so words seen" in err
    assert "times or fewer may be left out of the vocabulary" in err


def _text_with_new_words(words: int, seed: int, rare_words: int | None = None) -> str:
    """`words` words: 200 frequent ones and, one word in three, a rare one: drawn from
    `rare_words` of them, or (None) a new one each time."""
    rng = random.Random(seed)
    frequent = [f"common{i}" for i in range(200)]
    rare = (lambda i, j: f"rare{i}x{j}") if rare_words is None else (lambda i, j: f"rare{rng.randrange(rare_words)}")
    return "\n".join(
        " ".join(rare(i, j) if j % 3 == 0 else rng.choice(frequent) for j in range(10)) for i in range(words // 10)
    )


def test_counting_memory_does_not_grow_with_the_distinct_words_under_a_vocabulary_cap(tmp_path):
    # Real text's distinct words keep growing with it. Two corpora of 600,000 words, one with
    # 20,000 distinct rare words and one with 200,000: with the vocabulary capped, as by
    # default, the read's peak allocation (in this process: the count, the candidates) is
    # the same for both, not ten times as many entries.
    import tracemalloc

    peaks = []
    for rare_words in (20_000, None):
        folder = tmp_path / str(rare_words)
        write(folder / "a.txt", _text_with_new_words(600_000, seed=1, rare_words=rare_words))
        tracemalloc.start()
        try:
            corpus = corpus_of([folder], max_vocabulary=100, piece_size=1 << 16, read_size=1 << 14, workers=1)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert len(corpus.vocabulary) == 101
    assert peaks[1] < 1.2 * peaks[0], peaks


def test_a_pruned_count_leaves_a_capped_vocabulary_exact_and_says_nothing(tmp_path, capsys):
    # More distinct words than the table holds: it prunes past the unknown threshold, but
    # every word it drops is rarer than the capped vocabulary's rarest, so nothing is lost.
    write(tmp_path / "a.txt", _text_with_new_words(30_000, seed=3))
    exact = corpus_of([tmp_path], max_vocabulary=150, unknown_threshold=0, count_limit=10**6)
    bounded = corpus_of([tmp_path], max_vocabulary=150, unknown_threshold=0, count_limit=1000, piece_size=4096)
    assert bounded.vocabulary == exact.vocabulary
    assert all_ids(bounded).tolist() == all_ids(exact).tolist()
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- the store on disk


def test_the_store_is_reused_and_a_changed_file_is_read_again(tmp_path):
    text = write(tmp_path / "corpus" / "a.txt", "the cat sat on the mat " * 20)
    cache = tmp_path / "cache"
    first = corpus_of([tmp_path / "corpus"], cache_dir=cache)
    assert len(list(cache.glob("tokens-*.int32"))) == 1 and len(list(cache.glob("tokens-*.json"))) == 1
    progress = RecordedProgress()
    again = corpus_of([tmp_path / "corpus"], cache_dir=cache, progress=progress)
    assert progress.calls == []  # nothing was read
    assert again.vocabulary == first.vocabulary and all_ids(again).tolist() == all_ids(first).tolist()
    # Other settings are another store.
    corpus_of([tmp_path / "corpus"], cache_dir=cache, unknown_threshold=1, progress=progress)
    assert progress.calls and len(list(cache.glob("tokens-*.int32"))) == 2

    text.write_text("a different text now " * 20, encoding="utf-8")
    edited = corpus_of([tmp_path / "corpus"], cache_dir=cache)
    assert edited.vocabulary.decode(all_ids(edited)[:4]) == ["a", "different", "text", "now"]


@pytest.mark.parametrize("damage", ["flip a byte", "cut short", "no description", "bad description"])
def test_a_damaged_store_is_read_again(tmp_path, damage):
    write(tmp_path / "corpus" / "a.txt", "the cat sat on the mat " * 20)
    cache = tmp_path / "cache"
    expected = all_ids(corpus_of([tmp_path / "corpus"], cache_dir=cache)).tolist()
    data, = cache.glob("tokens-*.int32")
    meta, = cache.glob("tokens-*.json")
    if damage == "flip a byte":
        raw = bytearray(data.read_bytes())
        raw[5] ^= 1
        data.write_bytes(bytes(raw))
    elif damage == "cut short":
        data.write_bytes(data.read_bytes()[:-4])
    elif damage == "no description":
        meta.unlink()
    else:
        meta.write_text(json.dumps({"format": "word_predictor.token_store/1", "tokens": "many"}))
    progress = RecordedProgress()
    again = corpus_of([tmp_path / "corpus"], cache_dir=cache, progress=progress)
    assert progress.calls  # read again
    assert all_ids(again).tolist() == expected


_CHILD = """
import sys
from pathlib import Path
from word_predictor.corpus.build import build_corpus
from word_predictor.corpus.splits import window_block_size
from word_predictor.text.tokenizer import UNICODE_WORDS
{prelude}
try:
    build_corpus([sys.argv[1]], tokenizer=UNICODE_WORDS, unknown_threshold=0, validation_fraction=0.1,
                 test_fraction=0.2, block_size=window_block_size(3), cache_dir=Path(sys.argv[2]),
                 read_size={read_size}, piece_size={piece_size})
except Exception as error:
    print(type(error).__name__, error)
    sys.exit(1)
"""


def _child(prelude: str = "", read_size: int = 1 << 20, piece_size: int = 4 << 20) -> str:
    return _CHILD.format(prelude=prelude, read_size=read_size, piece_size=piece_size)


def _zipf_text(words: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.2, words), 5000)
    return "\n".join(" ".join(f"w{r}" for r in ranks[i : i + 12]) for i in range(0, words, 12)) + "\n"


def test_a_kill_while_encoding_leaves_no_store_that_a_rerun_trusts(tmp_path):
    write(tmp_path / "corpus" / "a.txt", _zipf_text(300_000))
    cache = tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-c", _child(read_size=4096, piece_size=1 << 16), str(tmp_path / "corpus"),
         str(cache)],
        cwd=REPO,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(p.is_file() and p.stat().st_size > 0 for p in cache.glob(".tokens-*.partial")):
        assert child.poll() is None, "the child finished before it could be killed mid-write"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert not list(cache.glob("tokens-*"))  # nothing was renamed into place

    rerun = corpus_of([tmp_path / "corpus"], cache_dir=cache)
    fresh = corpus_of([tmp_path / "corpus"], cache_dir=tmp_path / "fresh")
    assert rerun.vocabulary == fresh.vocabulary
    assert all_ids(rerun).tolist() == all_ids(fresh).tolist()
    assert not list(cache.glob(".tokens-*.partial"))  # the dead process's partial file is gone


def test_a_full_disk_while_writing_the_store_is_one_line_and_leaves_nothing(tmp_path):
    write(tmp_path / "corpus" / "a.txt", _zipf_text(200_000))
    cache = tmp_path / "cache"
    cache.mkdir()
    # A file-size limit makes the kernel refuse the store's writes (EFBIG), as a full disk would.
    prelude = ("import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
               "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", _child(prelude), str(tmp_path / "corpus"), str(cache)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    line = result.stdout.strip()
    assert line.startswith(f"CorpusSettingError cannot write the token store in {cache}: File too large;"), line
    assert "free some space there or turn the cache off (use_cache)" in line and "\n" not in line
    assert list(cache.iterdir()) == []


# ---------------------------------------------------------------- encode_files and progress


def test_encode_files_keeps_one_segment_per_file(tmp_path):
    write(tmp_path / "a.txt", "the cat")
    write(tmp_path / "b.txt", "the dog sat")
    vocabulary = Vocabulary.from_counts({"the": 3, "cat": 2}, unknown_threshold=0)
    split = encode_files([tmp_path], vocabulary)
    assert split.ids.tolist() == [1, 2, 1, UNKNOWN_ID, UNKNOWN_ID]
    assert split.segment_lengths.tolist() == [2, 3]
    assert split.ids.dtype == np.int32


def test_encode_files_reads_with_the_vocabularys_tokenizer(tmp_path):
    write(tmp_path / "a.txt", "Café don’t")
    unicode = Vocabulary.from_counts({"café": 3, "don't": 2}, 0)
    ascii_ = Vocabulary.from_counts({"caf": 3, "dont": 2}, 0, normalisation="ascii")
    assert encode_files([tmp_path], unicode).ids.tolist() == [1, 2]
    assert encode_files([tmp_path], ascii_).ids.tolist() == [1, 2]


def test_progress_is_reported_by_bytes(tmp_path):
    write(tmp_path / "a.txt", "the cat sat on the mat\n" * 100)
    progress = RecordedProgress()
    corpus_of([tmp_path], progress=progress, piece_size=500)
    assert progress.calls[0] == ("start", "reading 1 file(s)", 2300) and progress.calls[-1] == ("finish",)
    assert sum(call[1] for call in progress.calls if call[0] == "advance") == 2300


# ---------------------------------------------------------------- the published figures


def test_normalisation_reproduces_the_published_wikitext2_figures():
    # ../shared/data/README.md: with the ascii normalisation and threshold 3, the
    # training file has 177,348 tokens, a vocabulary of 4,703 with the unknown symbol,
    # and 11.9% of the test file's tokens are unknown.
    train, test = SHARED_DATA / "wikitext2-train.txt", SHARED_DATA / "wikitext2-test.txt"
    if not (train.is_file() and test.is_file()):
        pytest.skip("../shared/data is absent")
    corpus = build_corpus([train], tokenizer=ASCII_WORDS, unknown_threshold=3, validation_fraction=0,
                          test_fraction=0, block_size=window_block_size(5), min_tokens=6)  # fmt: skip
    assert corpus.token_count == 177_348
    assert len(corpus.vocabulary) == 4_703
    unknown = np.mean(encode_files([test], corpus.vocabulary).ids == UNKNOWN_ID)
    assert unknown == pytest.approx(0.119, abs=0.0005)


def test_unicode_normalisation_on_the_shared_texts_keeps_what_ascii_mangles():
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    corpus = build_corpus([SHARED_DATA], tokenizer=UNICODE_WORDS, unknown_threshold=3, validation_fraction=0,
                          test_fraction=0, block_size=window_block_size(5), min_tokens=6)  # fmt: skip
    assert {"i'll", "o'er", "that's", "ne'er"} <= set(corpus.vocabulary.tokens)
