"""What the user may set for each adaptation, checked here (SettingError names each as
{cache_size} and so on; a command names its flags). No NumPy, no Keras: a command reads the
defaults for its --help from these classes."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from word_predictor.config import SettingError


@dataclass(frozen=True)
class CacheSettings:
    """size: positions kept (the oldest dropped first); theta: how sharply the cache prefers
    the positions most like the current one; mix: the cache's share (lambda)."""

    size: int = 500
    theta: float = 0.3
    mix: float = 0.2

    def __post_init__(self):
        if not (isinstance(self.size, int) and 1 <= self.size <= 100_000):
            raise SettingError("{cache_size} must be a whole number from 1 to 100000, got {value}",
                               value=self.size)  # fmt: skip
        if not (math.isfinite(self.theta) and 0 <= self.theta <= 100):
            raise SettingError("{cache_theta} must be from 0 to 100, got {value}", value=self.theta)
        if not (math.isfinite(self.mix) and 0 <= self.mix <= 1):
            raise SettingError("{cache_lambda} must be from 0 to 1, got {value}", value=self.mix)


@dataclass(frozen=True)
class DynamicSettings:
    """rate: the step size of plain SGD on a segment's mean loss; decay: the share of the
    way back to the trained weights after each step; segment: tokens scored, then learned
    from, at a time."""

    rate: float = 0.3
    decay: float = 0.02
    segment: int = 16

    def __post_init__(self):
        if not (math.isfinite(self.rate) and 0 < self.rate <= 10):
            raise SettingError("{dynamic_rate} must be above 0 and at most 10, got {value}", value=self.rate)
        if not (math.isfinite(self.decay) and 0 <= self.decay <= 1):
            raise SettingError("{dynamic_decay} must be from 0 to 1, got {value}", value=self.decay)
        if not (isinstance(self.segment, int) and 1 <= self.segment <= 10_000):
            raise SettingError("{dynamic_segment} must be a whole number from 1 to 10000, got {value}",
                               value=self.segment)  # fmt: skip




def default_of(settings: type, name: str):
    """A setting's default, for a command's --help."""
    return next(field.default for field in fields(settings) if field.name == name)
