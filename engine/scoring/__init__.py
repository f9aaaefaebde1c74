"""kaohe's scoring rules as pure functions on plain values (DOMAIN.md §2–§3).

numbers     the one rounding rule (scores 2 places ROUND_HALF_UP, money whole yuan, percent points)
fusion      3:7 fusion of unit and party-branch scores
ranking     ranks per category; top places only in the upper half, bottom only in the lower half
rewards     monthly and quarterly rewards from the DMN tables in workflows/
individual  multi-rater individual scores
political   the political-quality check (negative list) that comes first
shortlist   candidates for "excellent"; consecutive full marks flagged for review
"""
from engine.scoring.errors import RewardTableError, ScoringError
from engine.scoring.fusion import CATEGORIES, DEFAULT_OWN_WEIGHT, PARTY_BRANCH, UnitOwnScore, fuse_scores
from engine.scoring.individual import (DEFAULT_RATER_WEIGHTS, RATER_ROLES, IndividualScore, Rating,
                                       validate_rater_weights, weighted_score)
from engine.scoring.numbers import apply_percent, round_money, round_score, to_decimal
from engine.scoring.political import (DEFAULT_FAIL_THRESHOLD, DEFAULT_NEGATIVE_LIST, NegativeItem,
                                      PoliticalResult, assess)
from engine.scoring.ranking import Ranked, rank_by_category
from engine.scoring.rewards import (MONTHLY_DECISION_ID, QUARTERLY_DECISION_ID, MonthlyReward,
                                    QuarterlyReward, RewardTable, load_default_tables, monthly_reward,
                                    quarterly_reward, rank_inputs)
from engine.scoring.shortlist import excellent_shortlist, full_marks_streaks

__all__ = [
    "CATEGORIES", "DEFAULT_FAIL_THRESHOLD", "DEFAULT_NEGATIVE_LIST", "DEFAULT_OWN_WEIGHT",
    "DEFAULT_RATER_WEIGHTS", "MONTHLY_DECISION_ID", "PARTY_BRANCH", "QUARTERLY_DECISION_ID", "RATER_ROLES",
    "IndividualScore", "MonthlyReward", "NegativeItem", "PoliticalResult", "QuarterlyReward", "Ranked",
    "Rating", "RewardTable", "RewardTableError", "ScoringError", "UnitOwnScore", "apply_percent", "assess",
    "excellent_shortlist", "full_marks_streaks", "fuse_scores", "load_default_tables", "monthly_reward",
    "quarterly_reward", "rank_by_category", "rank_inputs", "round_money", "round_score", "to_decimal",
    "validate_rater_weights", "weighted_score",
]
