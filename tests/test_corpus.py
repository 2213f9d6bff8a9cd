import numpy as np
import pytest

from word_predictor.corpus import (
    CorpusError,
    build_corpus,
    encode_files,
    find_text_files,
    read_tokens,
    split_segments,
)
from word_predictor.text import UNKNOWN_ID, Vocabulary


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_finds_txt_recursively_sorted(tmp_path):
    write(tmp_path / "b.txt", "b")
    write(tmp_path / "sub" / "a.txt", "a")
    write(tmp_path / "notes.md", "ignored")
    files = find_text_files([tmp_path])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["b.txt", "sub/a.txt"]


def test_a_single_file_is_taken_as_given(tmp_path):
    path = write(tmp_path / "story.text", "hello")
    assert find_text_files([path]) == [path]


def test_missing_or_empty_corpus_says_so(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        find_text_files([tmp_path / "nope"])
    with pytest.raises(CorpusError, match="no .txt files"):
        find_text_files([tmp_path])


def test_read_tokens_keeps_text_order_across_files_and_blocks(tmp_path):
    write(tmp_path / "a.txt", "One two\nthree")
    write(tmp_path / "b.txt", "two ONE")
    stream = read_tokens(find_text_files([tmp_path]))
    assert [stream.words[i] for i in stream.ids] == ["one", "two", "three", "two", "one"]
    assert stream.file_lengths == [3, 2]


def test_words_split_across_read_blocks_stay_whole(tmp_path, monkeypatch):
    import word_predictor.corpus as corpus

    monkeypatch.setattr(corpus, "_BLOCK_BYTES", 7)
    write(tmp_path / "a.txt", "alpha beta gamma delta epsilon")
    stream = read_tokens([tmp_path / "a.txt"])
    assert [stream.words[i] for i in stream.ids] == ["alpha", "beta", "gamma", "delta", "epsilon"]


def test_split_segments_cover_every_token_once():
    segments = split_segments(10_000, 100, validation_fraction=0.1, test_fraction=0.2)
    covered = sorted((a, b) for spans in segments.values() for a, b in spans)
    assert covered[0][0] == 0 and covered[-1][1] == 10_000
    assert all(prev[1] == nxt[0] for prev, nxt in zip(covered, covered[1:]))
    share = {name: sum(b - a for a, b in spans) / 10_000 for name, spans in segments.items()}
    assert share["test"] == pytest.approx(0.2, abs=0.03)
    assert share["validation"] == pytest.approx(0.1, abs=0.03)


def test_vocabulary_comes_from_training_split_only(tmp_path):
    tokens = ("the cat sat on the mat " * 400).split()
    test_spans = split_segments(len(tokens), 24, 0.1, 0.2)["test"]
    for start, end in test_spans:
        tokens[start] = "zebra"  # a word seen only in the test split
    write(tmp_path / "a.txt", " ".join(tokens))
    corpus = build_corpus(
        [tmp_path], min_tokens=4, unknown_threshold=0, validation_fraction=0.1, test_fraction=0.2
    )
    assert "zebra" not in corpus.vocabulary
    assert set(corpus.vocabulary.tokens) == {"<unk>", "the", "cat", "sat", "on", "mat"}
    assert corpus.tokens == len(tokens)
    test = corpus.splits["test"]
    assert np.sum(test.ids == UNKNOWN_ID) == len(test_spans)
    for split in corpus.splits.values():
        assert split.segment_lengths.sum() == split.tokens
    # the train split decodes back to the text of its first segment
    first = corpus.splits["train"].segment_lengths[0]
    assert corpus.vocabulary.decode(corpus.splits["train"].ids[:first]) == tokens[:first]


def test_words_below_threshold_become_unknown(tmp_path):
    write(tmp_path / "a.txt", "apple banana " * 50 + "cherry")
    corpus = build_corpus(
        [tmp_path], min_tokens=3, unknown_threshold=3, validation_fraction=0.0, test_fraction=0.0
    )
    assert "cherry" not in corpus.vocabulary
    assert corpus.splits["train"].ids[-1] == UNKNOWN_ID


def test_corpus_shorter_than_a_window_is_refused(tmp_path):
    write(tmp_path / "a.txt", "only four words here")
    with pytest.raises(CorpusError, match="needs at least 6"):
        build_corpus([tmp_path], min_tokens=6, unknown_threshold=0, validation_fraction=0, test_fraction=0)


def test_invalid_utf8_names_file_and_byte(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good words " + b"\xff\xfe" + b" more")
    with pytest.raises(CorpusError, match=r"bad.txt is not valid UTF-8 at byte 11"):
        read_tokens([path])
    replaced = read_tokens([path], "replace")
    assert [replaced.words[i] for i in replaced.ids] == ["good", "words", "more"]


def test_encode_files_keeps_one_segment_per_file(tmp_path):
    write(tmp_path / "a.txt", "the cat")
    write(tmp_path / "b.txt", "the dog sat")
    vocabulary = Vocabulary.from_counts({"the": 3, "cat": 2}, unknown_threshold=0)
    split = encode_files([tmp_path], vocabulary)
    assert split.ids.tolist() == [1, 2, 1, UNKNOWN_ID, UNKNOWN_ID]
    assert split.segment_lengths.tolist() == [2, 3]
    assert split.ids.dtype == np.int32


def test_token_cache_gives_the_same_stream_and_notices_edits(tmp_path, monkeypatch):
    import word_predictor.corpus as corpus

    text = write(tmp_path / "corpus" / "a.txt", "the cat sat on the mat")
    files = find_text_files([tmp_path / "corpus"])
    cache = tmp_path / "cache"
    first = corpus.read_tokens_cached(files, "strict", cache)
    assert len(list(cache.glob("tokens-*.npz"))) == 1

    def no_reading(*args, **kwargs):
        raise AssertionError("the text was read again")

    monkeypatch.setattr(corpus, "read_tokens", no_reading)
    again = corpus.read_tokens_cached(files, "strict", cache)
    assert again.ids.tolist() == first.ids.tolist() and again.ids.dtype == np.int32
    assert again.words == first.words and again.file_lengths == first.file_lengths
    monkeypatch.undo()

    text.write_text("a different text now", encoding="utf-8")
    edited = corpus.read_tokens_cached(files, "strict", cache)
    assert [edited.words[i] for i in edited.ids] == ["a", "different", "text", "now"]
    # a damaged cache file is simply read again
    for path in cache.glob("tokens-*.npz"):
        path.write_bytes(b"not an npz")
    assert corpus.read_tokens_cached(files, "strict", cache).words == edited.words


def test_normalisation_reproduces_the_published_wikitext2_figures():
    # ../shared/data/README.md: with this normalisation and threshold 3, the training
    # file has 177,348 tokens, a vocabulary of 4,703 with the unknown symbol, and
    # 11.9% of the test file's tokens are unknown.
    from tests.conftest import SHARED_DATA

    train, test = SHARED_DATA / "wikitext2-train.txt", SHARED_DATA / "wikitext2-test.txt"
    if not (train.is_file() and test.is_file()):
        pytest.skip("../shared/data is absent")
    corpus = build_corpus([train], min_tokens=6, unknown_threshold=3, validation_fraction=0, test_fraction=0)
    assert corpus.tokens == 177_348
    assert len(corpus.vocabulary) == 4_703
    unknown = np.mean(encode_files([test], corpus.vocabulary).ids == UNKNOWN_ID)
    assert unknown == pytest.approx(0.119, abs=0.0005)
