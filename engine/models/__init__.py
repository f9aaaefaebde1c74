"""All mapped classes, imported here so Base.metadata knows every table."""
from engine.models.access import ApiToken
from engine.models.audit import AuditEvent, AuditHead
from engine.models.calendar_days import NonWorkingDay
from engine.models.evidence import EvidenceFile
from engine.models.fan_out import FanOut, FanOutItem
from engine.models.job import Job
from engine.models.instance import HumanTask, ProcessInstance, TaskCandidate
from engine.models.org import OrgUnit, Person, PersonRole
from engine.models.process import DecisionVersion, DefinitionFile, ProcessVersion, ProcessVersionFile
from engine.models.result_store import ResultInputGeneration, ResultPersonRow, ResultSnapshot, ResultUnitRow  # noqa: F401
from engine.models.scheduling import ScheduledFiring
from engine.models.tracking import RectificationCase, RectificationStep
from engine.models.scoring import (AchievementItem, EvaluationGroup, FeedbackInterview, EvaluationGroupMember, EvaluationScheme, PersonRating,
                                   PoliticalFinding, SchemeArea, SchemeIndicator, ScoreAdjustment, ScoreEntry)

__all__ = ["ApiToken", "AuditEvent", "AuditHead", "HumanTask", "ProcessInstance", "TaskCandidate", "OrgUnit",
           "Person", "PersonRole", "DecisionVersion", "DefinitionFile", "ProcessVersion", "ProcessVersionFile", "EvaluationGroup",
           "EvaluationGroupMember", "EvaluationScheme", "PersonRating", "PoliticalFinding", "SchemeArea",
           "SchemeIndicator", "ScoreAdjustment", "ScoreEntry", "ScheduledFiring", "NonWorkingDay", "AchievementItem",
           "FeedbackInterview", "EvidenceFile", "FanOut", "FanOutItem", "Job", "RectificationCase", "RectificationStep"]
