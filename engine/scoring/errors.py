"""Errors of the scoring rules; each names what is wrong in Chinese and English (engine.errors)."""
from __future__ import annotations

from engine.errors import ValidationFailed


class ScoringError(ValidationFailed):
    """Scores, weights, categories or findings that the rules cannot work with."""

    code = "scoring_invalid"


class RewardTableError(ScoringError):
    """A reward decision table (DMN) that cannot be read or gives no usable numbers."""

    code = "reward_table_invalid"
