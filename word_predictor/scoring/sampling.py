"""Drawing the next token: temperature, top-k and top-p (nucleus) over logits, NumPy only.

    logits (V,) or (batch, V)
      / temperature          T < 1 sharpens, T > 1 flattens, T = 0 is greedy argmax,
                             a T too small to divide by is greedy too
      -> softmax
      -> drop `exclude`      e.g. the unknown symbol, unless the user asks for it
      -> top-k               keep the k most probable (0: off)
      -> top-p               keep the fewest most probable whose mass reaches p (1: off),
                             the likeliest always (so a tiny p is greedy)
      -> renormalise         -> draw one id per row

Log-probabilities work as logits: softmax does not change when a constant is added.
Equal probabilities rank by lower id, as scores.top_k ranks them, so a filter never
depends on how a sort happened to break a tie.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

from word_predictor.scoring.figures import softmax

_ROUNDING = 1e-12  # far above float64 error in a sum of probabilities, far below any real p


def check_settings(temperature: float, top_k: int, top_p: float) -> None:
    """Raise ValueError, with what is allowed, for settings that make no distribution."""
    if not (isinstance(temperature, numbers.Real) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be 0 (greedy) or a positive number, got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise ValueError(f"top_k must be 0 (off) or a positive whole number, got {top_k!r}")
    if not (isinstance(top_p, numbers.Real) and 0 < top_p <= 1):
        raise ValueError(f"top_p must be more than 0 and at most 1 (1 is off), got {top_p!r}")


def probabilities(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    exclude: Iterable[int] = (),
) -> np.ndarray:
    """(V,) or (batch, V) logits -> float64 probabilities of the same shape, rows summing
    to 1 and 0 outside the tokens the filters keep (one-hot at the argmax when T = 0)."""
    check_settings(temperature, top_k, top_p)
    rows = np.atleast_2d(np.asarray(logits, np.float64))
    if rows.ndim != 2 or rows.shape[1] == 0:
        raise ValueError(f"logits must be (vocabulary,) or (batch, vocabulary), got shape {np.shape(logits)}")
    if np.isnan(rows).any() or np.isposinf(rows).any():
        raise ValueError("logits must not be NaN or +inf")
    allowed = _allowed(rows, exclude)
    if temperature == 0:
        kept = np.zeros(rows.shape)
        kept[np.arange(len(rows)), np.argmax(np.where(allowed, rows, -np.inf), axis=1)] = 1.0
        return kept.reshape(np.shape(logits))
    weights = softmax(np.where(allowed, rows, -np.inf), temperature)  # (batch, V)
    if top_k or top_p < 1:
        weights = _nucleus(weights, top_k, top_p)
    return (weights / weights.sum(axis=1, keepdims=True)).reshape(np.shape(logits))


def sample(
    logits: np.ndarray,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    exclude: Iterable[int] = (),
    rng: np.random.Generator,
) -> int:
    """(V,) logits -> one token id drawn from `probabilities(...)` with `rng`."""
    if np.ndim(logits) != 1:
        raise ValueError(f"sample takes one row of logits, got shape {np.shape(logits)}; see sample_batch")
    return int(sample_batch(logits[None, :], temperature=temperature, top_k=top_k, top_p=top_p,
                            exclude=exclude, rng=rng)[0])  # fmt: skip


def sample_batch(
    logits: np.ndarray,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    exclude: Iterable[int] = (),
    rng: np.random.Generator,
) -> np.ndarray:
    """(batch, V) logits -> (batch,) int64 ids, one uniform draw from `rng` per row
    (none when temperature is 0)."""
    if np.ndim(logits) != 2:
        raise ValueError(f"sample_batch takes (batch, vocabulary) logits, got shape {np.shape(logits)}")
    chosen = probabilities(logits, temperature, top_k, top_p, exclude)
    if temperature == 0:
        return np.argmax(chosen, axis=1)
    # Inverse CDF: the first id whose running total passes the draw. A token of
    # probability 0 adds nothing to the total, so it can never be first to pass.
    running = np.cumsum(chosen, axis=1)
    draw = rng.random(len(chosen)) * running[:, -1]
    return np.argmax(running > draw[:, None], axis=1)


def _allowed(rows: np.ndarray, exclude: Iterable[int]) -> np.ndarray:
    """(batch, V) -> (batch, V) bool: not excluded and not -inf; every row keeps one."""
    vocabulary = rows.shape[1]
    excluded = [int(i) for i in exclude]
    outside = [i for i in excluded if not 0 <= i < vocabulary]
    if outside:
        raise ValueError(f"excluded id {outside[0]} is outside the vocabulary of {vocabulary} tokens")
    allowed = rows > -np.inf
    allowed[:, excluded] = False
    if not allowed.any(axis=1).all():
        raise ValueError("every token is excluded or has probability 0, so there is nothing to draw")
    return allowed


def _nucleus(weights: np.ndarray, top_k: int, top_p: float) -> np.ndarray:
    """(batch, V) unnormalised weights -> the same with 0 outside the top-k / top-p set."""
    # Most probable first; a stable sort keeps equal weights in id order.
    order = np.argsort(-weights, axis=1, kind="stable")
    ranked = np.take_along_axis(weights, order, axis=1)
    if top_k:
        ranked[:, top_k:] = 0.0
    if top_p < 1:
        mass = ranked / ranked.sum(axis=1, keepdims=True)
        # A token is kept while the tokens ranked above it hold less than p: the first
        # one always, and the one whose mass reaches p is the last. "Reaches" allows
        # for rounding, so .5 + .3 reaches p = .8 however the logits were computed.
        # The likeliest token is kept whatever p is: a p below the rounding allowance
        # (1e-12, inside the accepted range) would otherwise drop every token.
        mass_above = np.zeros_like(mass)
        np.cumsum(mass[:, :-1], axis=1, out=mass_above[:, 1:])
        ranked[:, 1:][mass_above[:, 1:] >= top_p - _ROUNDING] = 0.0
    kept = np.zeros_like(weights)
    np.put_along_axis(kept, order, ranked, axis=1)
    return kept
