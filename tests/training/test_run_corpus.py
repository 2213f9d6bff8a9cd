"""training.reading: the corpus as a Config says, with the default vocabulary cap."""

from __future__ import annotations

from tests.helpers import write
from word_predictor.config import Config
from word_predictor.training.run_corpus import corpus_for


def test_the_default_keeps_the_50_000_most_frequent_words(tmp_path):
    # 50,010 words seen 4, 6 or 8 times each (all above the unknown threshold of 3): the ten
    # seen least fall to the unknown symbol, as a dictionary of 50,000 words leaves them out.
    words = [f"w{number}" for number in range(50_010)]
    lines = [" ".join(words[:40_000])] * 2 + [" ".join(words[:50_000])] * 2 + [" ".join(words)] * 4
    write(tmp_path / "a.txt", "\n".join(lines) + "\n")
    config = Config(corpus=[str(tmp_path)], validation_fraction=0, test_fraction=0)
    vocabulary = corpus_for(config).vocabulary
    assert config.max_vocabulary == 50_000 and vocabulary.max_size == 50_000
    assert len(vocabulary) == 50_001  # the unknown symbol and the 50,000 kept
    kept = set(vocabulary.tokens)
    assert "w0" in kept and "w49999" in kept and not kept & {f"w{n}" for n in range(50_000, 50_010)}
    assert vocabulary.counts[0] == 10 * 4  # the ten dropped words, four times each


def test_no_cap_keeps_every_word_above_the_threshold(tmp_path):
    write(tmp_path / "a.txt", ("alpha beta gamma " * 5 + "rare ") * 2)
    config = Config(corpus=[str(tmp_path)], max_vocabulary=0, validation_fraction=0, test_fraction=0)
    assert corpus_for(config).vocabulary.tokens == ("<unk>", "alpha", "beta", "gamma")
