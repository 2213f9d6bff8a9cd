"""Logits -> figures, NumPy only: perplexity, ranks, keyboard figures, sampling, scoring a split."""

from word_predictor.scoring.evaluate import format_scores, read_ahead, score, score_run  # noqa: F401
from word_predictor.scoring.figures import (  # noqa: F401
    PROBABILITY_FLOOR,
    Tally,
    bits_per_token,
    perplexity,
    softmax,
    target_log_probabilities,
    target_ranks,
    top_k,
)
from word_predictor.scoring.keyboard import (  # noqa: F401
    KEYBOARD_SUGGESTIONS,
    Keystrokes,
    PrefixIndex,
    completions,
)
from word_predictor.scoring.sampling import check_settings, probabilities, sample, sample_batch  # noqa: F401
