"""What the process owners' editor reads: deployed processes and decision tables, their versions,
their files, and what changed between two versions of a diagram.

Owners and admins edit; auditors may look and download (they check what ran when); nobody else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from sqlalchemy import func, select

from engine.bpmn import forms
from engine.errors import NotFound, PermissionDenied
from engine.models import DecisionVersion, ProcessVersion
from engine.runtime import Actor, Runtime

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
VIEW_ROLES = ("process_owner", "admin", "auditor")
EDIT_ROLES = ("process_owner", "admin")
_DERIVED = {f"{{{BPMN_NS}}}incoming", f"{{{BPMN_NS}}}outgoing"}
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def require_view(actor: Actor) -> None:
    if not actor.has_role(*VIEW_ROLES):
        raise PermissionDenied("只有流程负责人和审计员可以查看流程定义",
                               "only process owners and auditors may see process definitions")


def can_edit(actor: Actor) -> bool:
    return actor.has_role(*EDIT_ROLES)


@dataclass(frozen=True)
class DefinitionRow:
    id: str
    name: str
    version: int
    deployed_by: str
    deployed_at: datetime
    versions: int
    kind: str  # process / decision


@dataclass(frozen=True)
class VersionFile:
    filename: str
    sha256: str
    kind: str


@dataclass(frozen=True)
class VersionRow:
    version: int
    name: str
    deployed_by: str
    deployed_at: datetime
    files: list[VersionFile]


def list_definitions(rt: Runtime, actor: Actor) -> tuple[list[DefinitionRow], list[DefinitionRow]]:
    """Every process and every decision table with its latest version: (processes, decisions)."""
    require_view(actor)
    with rt.db.reading() as session:
        processes = _latest_rows(session, ProcessVersion, ProcessVersion.process_id, "process")
        decisions = _latest_rows(session, DecisionVersion, DecisionVersion.decision_id, "decision")
    return processes, decisions


def _latest_rows(session, model, key, kind: str) -> list[DefinitionRow]:
    latest = (select(key.label("key"), func.max(model.version).label("top"), func.count().label("n"))
              .group_by(key).subquery())
    newest = (key == latest.c.key) & (model.version == latest.c.top)
    rows = session.execute(select(model, latest.c.n).join(latest, newest).order_by(key)).all()
    return [DefinitionRow(getattr(row, "process_id", None) or row.decision_id, row.name, row.version,
                          row.deployed_by, row.deployed_at, n, kind) for row, n in rows]


def process_history(rt: Runtime, actor: Actor, process_id: str) -> list[VersionRow]:
    """Every version of a process, newest first, with its files and their digests."""
    require_view(actor)
    with rt.db.reading() as session:
        versions = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                                   .order_by(ProcessVersion.version.desc())).all()
        rows = [VersionRow(v.version, v.name, v.deployed_by, v.deployed_at,
                           [VersionFile(f.filename, f.sha256, f.file.kind) for f in v.files]) for v in versions]
    if not rows:
        raise NotFound(f"流程 {process_id} 尚未部署", f"process {process_id} is not deployed")
    return rows


def decision_history(rt: Runtime, actor: Actor, decision_id: str) -> list[VersionRow]:
    require_view(actor)
    with rt.db.reading() as session:
        versions = session.scalars(select(DecisionVersion).where(DecisionVersion.decision_id == decision_id)
                                   .order_by(DecisionVersion.version.desc())).all()
        rows = [VersionRow(v.version, v.name, v.deployed_by, v.deployed_at,
                           [VersionFile(v.filename, v.sha256, "dmn")]) for v in versions]
    if not rows:
        raise NotFound(f"决策表 {decision_id} 尚未部署", f"decision table {decision_id} is not deployed")
    return rows


def _version_files(session, process_id: str, version: int | None) -> dict[str, tuple[str, str]]:
    """{filename: (kind, content)} of one version (the latest when `version` is None)."""
    query = select(ProcessVersion).where(ProcessVersion.process_id == process_id)
    query = query.where(ProcessVersion.version == version) if version else \
        query.order_by(ProcessVersion.version.desc()).limit(1)
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"流程 {process_id} 没有版本 {version or ''}",
                       f"process {process_id} has no version {version or ''}")
    return {f.filename: (f.file.kind, f.file.content) for f in row.files}


def version_file(rt: Runtime, actor: Actor, process_id: str, version: int, filename: str) -> str:
    require_view(actor)
    with rt.db.reading() as session:
        files = _version_files(session, process_id, version)
    if filename not in files:
        raise NotFound(f"版本中没有文件 {filename}", f"no file {filename} in this version")
    return files[filename][1]


def decision_file(rt: Runtime, actor: Actor, decision_id: str, version: int | None = None) -> tuple[str, str, int]:
    """(filename, content, version) of a decision table; the latest when `version` is None."""
    require_view(actor)
    with rt.db.reading() as session:
        query = select(DecisionVersion).where(DecisionVersion.decision_id == decision_id)
        query = query.where(DecisionVersion.version == version) if version else \
            query.order_by(DecisionVersion.version.desc()).limit(1)
        row = session.scalars(query).first()
        if row is None:
            raise NotFound(f"决策表 {decision_id} 没有该版本", f"decision table {decision_id} has no such version")
        return row.filename, row.file.content, row.version


@dataclass
class EditorSource:
    process_id: str
    name: str
    version: int
    bpmn_name: str
    bpmn: str
    forms: dict[str, str] = field(default_factory=dict)  # the form files the diagram names


def editor_source(rt: Runtime, actor: Actor, process_id: str) -> EditorSource:
    """The latest version's diagram file of a process, and the forms that file uses, to edit."""
    require_view(actor)
    with rt.db.reading() as session:
        files = _version_files(session, process_id, None)
        latest = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                                 .order_by(ProcessVersion.version.desc()).limit(1)).first()
    name, content = _defining_file(files, process_id)
    wanted = _form_names(content)
    return EditorSource(process_id, latest.name, latest.version, name, content,
                        {n: c for n, (kind, c) in sorted(files.items()) if kind == "form" and n in wanted})


def _parse(content: str):
    try:
        return etree.fromstring(content.encode("utf-8"), parser=_SAFE_XML)
    except etree.XMLSyntaxError:
        return None


def _defining_file(files: dict[str, tuple[str, str]], process_id: str) -> tuple[str, str]:
    for name, (kind, content) in sorted(files.items()):
        root = _parse(content) if kind == "bpmn" else None
        if root is not None and any(p.get("id") == process_id for p in root.iter(f"{{{BPMN_NS}}}process")):
            return name, content
    raise NotFound(f"找不到定义流程 {process_id} 的文件", f"no file defines process {process_id}")


def _form_names(content: str) -> set[str]:
    root = _parse(content)
    if root is None:
        return set()
    return {node.get("value") for node in root.iter() if isinstance(node.tag, str)
            and etree.QName(node).localname == "property" and node.get("name") == forms.FORM_PROPERTY}


@dataclass(frozen=True)
class ElementChange:
    id: str
    name: str
    type: str


@dataclass
class VersionDiff:
    old: int
    new: int
    added: list[ElementChange]
    removed: list[ElementChange]
    changed: list[ElementChange]
    files_changed: list[str]  # file names whose content differs (forms too), or that came or went
    old_file: str
    new_file: str


def diff_versions(rt: Runtime, actor: Actor, process_id: str, old: int, new: int) -> VersionDiff:
    """Elements added, removed and changed (ignoring layout) between two versions of a process."""
    require_view(actor)
    with rt.db.reading() as session:
        before, after = _version_files(session, process_id, old), _version_files(session, process_id, new)
    old_name, old_xml = _defining_file(before, process_id)
    new_name, new_xml = _defining_file(after, process_id)
    a, b = _elements(old_xml), _elements(new_xml)
    files_changed = sorted(n for n in set(before) | set(after)
                           if before.get(n, (None, None))[1] != after.get(n, (None, None))[1])
    return VersionDiff(old, new,
                       added=[b[i][0] for i in sorted(set(b) - set(a))],
                       removed=[a[i][0] for i in sorted(set(a) - set(b))],
                       changed=[b[i][0] for i in sorted(set(a) & set(b)) if a[i][1] != b[i][1]],
                       files_changed=files_changed, old_file=old_name, new_file=new_name)


def _elements(content: str) -> dict[str, tuple[ElementChange, bytes]]:
    """Each drawn element by id, with a digest of what it says (without its drawn children or layout)."""
    root = _parse(content)
    if root is None:
        return {}
    drawn = {node.get("bpmnElement") for node in root.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge")}
    found: dict[str, tuple[ElementChange, bytes]] = {}
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        element_id = node.get("id")
        if not element_id or (element_id not in drawn and etree.QName(node).localname != "process"):
            continue
        copy = etree.fromstring(etree.tostring(node), parser=_SAFE_XML)
        for child in list(copy.iter())[1:]:
            # bpmn-js writes incoming/outgoing (derived from the flows) and xsi:type on expressions
            # where hand-written files have none: neither changes what runs.
            if child.getparent() is not None and (child.get("id") in drawn or child.tag in _DERIVED):
                child.getparent().remove(child)
        for child in copy.iter():
            child.attrib.pop(_XSI_TYPE, None)
        found[element_id] = (ElementChange(element_id, node.get("name") or "", etree.QName(node).localname),
                             etree.tostring(copy, method="c14n", exclusive=True))
    return found
