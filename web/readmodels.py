"""Small read-only queries the pages need and the engine's services do not (yet) offer."""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from sqlalchemy import select

from engine.models import DefinitionFile, Person, ProcessInstance, ProcessVersionFile
from engine.runtime import Runtime
from web.diagram_layout import BPMN_NS, with_layout


@dataclass(frozen=True)
class Profile:
    display_name: str
    language: str | None


def person_profile(rt: Runtime, person_id: int | None) -> Profile | None:
    if person_id is None:
        return None
    with rt.db.reading() as session:
        row = session.execute(select(Person.display_name, Person.language)
                              .where(Person.id == person_id)).first()
        return Profile(row.display_name, row.language) if row else None


@dataclass(frozen=True)
class InstanceSummary:
    id: int
    title: str
    process_id: str
    status: str


def instance_summaries(rt: Runtime, instance_ids) -> dict[int, InstanceSummary]:
    """Title and status per instance, for lists of tasks (one query, whatever the engine loaded)."""
    wanted = sorted(set(instance_ids))
    if not wanted:
        return {}
    with rt.db.reading() as session:
        rows = session.execute(select(ProcessInstance.id, ProcessInstance.title, ProcessInstance.process_id,
                                      ProcessInstance.status).where(ProcessInstance.id.in_(wanted))).all()
        return {row.id: InstanceSummary(row.id, row.title, row.process_id, row.status) for row in rows}


def _defines_process(content: str, process_id: str) -> bool:
    try:
        root = etree.fromstring(content.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return False
    return any(p.get("id") == process_id for p in root.iter(f"{{{BPMN_NS}}}process"))


def diagram_xml(rt: Runtime, version_id: int, process_id: str) -> str | None:
    """The BPMN file of a deployed version that defines the process, with a layout if it has none."""
    with rt.db.reading() as session:
        files = session.execute(
            select(ProcessVersionFile.filename, DefinitionFile.content)
            .join(DefinitionFile, DefinitionFile.sha256 == ProcessVersionFile.sha256)
            .where(ProcessVersionFile.version_id == version_id, DefinitionFile.kind == "bpmn")
            .order_by(ProcessVersionFile.filename)).all()
    for _name, content in files:
        if _defines_process(content, process_id):
            return with_layout(content, process_id)
    return None
