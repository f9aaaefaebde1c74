"""All mapped classes, imported here so Base.metadata knows every table."""
from engine.models.audit import AuditEvent, AuditHead
from engine.models.instance import HumanTask, ProcessInstance, TaskCandidate
from engine.models.org import OrgUnit, Person, PersonRole
from engine.models.process import DefinitionFile, ProcessVersion, ProcessVersionFile

__all__ = ["AuditEvent", "AuditHead", "HumanTask", "ProcessInstance", "TaskCandidate", "OrgUnit",
           "Person", "PersonRole", "DefinitionFile", "ProcessVersion", "ProcessVersionFile"]
