"""The full context: the running text in lanes, read in chunks of `bptt` tokens with the
state carried between chunks (lanes.py lays them out; stream_reader.py reads a text the
same way at prediction time). One of the two contexts of word_predictor.batches."""

from __future__ import annotations

from word_predictor.batches.kinds import FullKind
from word_predictor.batches.lanes import LaneBatches
from word_predictor.batches.stream_reader import StreamReader
from word_predictor.config import SettingError
from word_predictor.corpus.splits import Split
from word_predictor.model.factory import build_model
from word_predictor.scoring.reading import pair_counts


class FullContext(FullKind):
    """Lanes read in chunks of `bptt` with carried state; see word_predictor.batches."""

    def __init__(self, config):
        super().__init__(config)
        self.min_tokens = 2

    def block_size(self, tokens: int) -> int:
        """Split blocks of 5% of the corpus (and a few chunks at least): validation and test each get a
        few long stretches of text (20 blocks: 2 for validation, 4 for test at the default fractions),
        so their figures use long contexts too."""
        return max(4 * (self.config.bptt + 1), tokens // 20)

    def check_training_split(self, split: Split) -> None:
        tokens = split.token_count
        if self.config.bptt > tokens - 1:
            raise SettingError(
                "{bptt} {given} is longer than the training split ({tokens} tokens); use {bptt} {most} or less, "
                "or add text", given=self.config.bptt, tokens=tokens, most=max(1, tokens // 4),
            )
        if self.config.batch_size > tokens - 1:  # more lanes than (input, target) pairs to deal them
            raise SettingError(
                "{batch_size} {given} lanes need at least as many tokens of training text, and the training split "
                "has {tokens}; use {batch_size} {most} or less, or add text",
                given=self.config.batch_size, tokens=tokens, most=max(1, tokens // (4 * self.config.bptt) or 1),
            )

    def training_model(self, facts, on_gpu: bool, use_cudnn="auto"):
        # As for windows: on a CPU the bptt steps unrolled train faster; a GPU keeps cuDNN.
        return build_model(self.config, facts, "training", fixed_length=not on_gpu, use_cudnn=use_cudnn)

    def training_batches(self, split: Split, epoch: int) -> LaneBatches:
        return LaneBatches(split, bptt=self.config.bptt, lanes=self.config.batch_size)

    def has_validation_targets(self, split: Split) -> bool:
        return bool((pair_counts(split) > 0).any())

    def reader(self, inference_model) -> StreamReader:
        return StreamReader(inference_model, self.config)
