"""Deploy BPMN, DMN and form files as new process versions, refusing bad files whole."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import limits
from engine.bpmn.bundle import Bundle, SourceFile, kind_of
from engine.errors import DeploymentRejected, NotFound, PermissionDenied, Problem
from engine.models import DecisionVersion, DefinitionFile, ProcessVersion, ProcessVersionFile
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.result_inputs import all_periods_changed
from engine.services import operators  # noqa: F401  (registers the service task operators deploy checks)


@dataclass(frozen=True)
class DeployResult:
    process_id: str  # or the decision id, for a decision table
    version: int
    version_id: int
    created: bool  # False when the same content was deployed before
    kind: str = "process"  # process / decision


def read_files(paths: list[str | Path]) -> list[SourceFile]:
    """Files from disk; a directory contributes every .bpmn/.dmn/.json file under it."""
    files: list[SourceFile] = []
    for path in map(Path, paths):
        # Evaluation schemes live beside the workflows (workflows/schemes/) but are not deployed as forms.
        candidates = sorted(p for p in path.rglob("*") if kind_of(p.name) and "schemes" not in
                            p.relative_to(path).parts) if path.is_dir() else [path]
        for candidate in candidates:
            try:
                content = candidate.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise DeploymentRejected([Problem(str(candidate), None, f"无法读取文件：{exc}",
                                                  f"cannot read the file: {exc}")]) from exc
            files.append(SourceFile(candidate.name, content))
    return files


def read_uploads(uploads) -> tuple[list[SourceFile], list[Problem]]:
    """Uploaded (filename, bytes) pairs as files, and a problem for each one that is not UTF-8 text.

    Only the bare file name is kept: it keys stored versions and never points at a place on disk.
    Parts without a name (a file input left empty) are skipped."""
    files: list[SourceFile] = []
    problems: list[Problem] = []
    for filename, content in uploads:
        name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            continue
        try:
            files.append(SourceFile(name, content.decode("utf-8-sig")))
        except UnicodeDecodeError:
            problems.append(Problem(name, None, "文件不是 UTF-8 编码的文本", "the file is not UTF-8 text"))
    return files, problems


def find_latest_version(session: Session, process_id: str) -> ProcessVersion | None:
    """The latest deployed version of a process, or None."""
    return session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                           .order_by(ProcessVersion.version.desc()).limit(1)).first()


def _supporting_files(session: Session, bundle: Bundle) -> None:
    """Earlier deployments satisfy calls to processes and forms this upload does not carry."""
    for _ in range(5):  # a called process may call another; a few levels are plenty
        called, forms = bundle.missing_references()
        extra: dict[str, SourceFile] = {}
        for process_id in called:
            version = find_latest_version(session, process_id)
            for link in version.files if version else ():
                extra[link.filename] = SourceFile(link.filename, link.file.content)
        for name in forms:
            link = session.scalars(select(ProcessVersionFile).where(ProcessVersionFile.filename == name)
                                   .order_by(ProcessVersionFile.version_id.desc()).limit(1)).first()
            if link is not None:
                extra[name] = SourceFile(name, link.file.content)
        if not extra:
            return
        bundle.add_supporting(list(extra.values()))


def _store_file(session: Session, file: SourceFile, now) -> None:
    if session.get(DefinitionFile, file.sha256) is None:
        session.add(DefinitionFile(sha256=file.sha256, kind=file.kind, content=file.content,
                                   size=len(file.content.encode("utf-8")), created_at=now))


def _oversized(rt: Runtime, files: list[SourceFile]) -> list[Problem]:
    """Files larger than KAOHE_MAX_DEFINITION_KB, refused before they are parsed."""
    found = [(file.name, limits.definition_problem(rt.settings, file.name, file.content)) for file in files]
    return [Problem(name, None, problem.zh, problem.en) for name, problem in found if problem is not None]


def _checked_bundle(session: Session, files: list[SourceFile]):
    """Every check a deployment makes; raises DeploymentRejected. Shared by deploy and the dry run."""
    uploaded = {f.name for f in files}
    bundle = Bundle(files)
    _supporting_files(session, bundle)
    targets = [pid for pid, info in bundle.refs.items() if info.executable and info.file in uploaded]
    return bundle, bundle.build(targets or None)


def check(rt: Runtime, files: list[SourceFile], actor: Actor, unreadable: list[Problem] = ()) -> list[Problem]:
    """What deploying these files would refuse, storing nothing (the editor's 校验 button).

    `unreadable`: problems found reading the upload (read_uploads), reported only to those who may check."""
    if not actor.has_role("process_owner", "admin"):
        raise PermissionDenied("只有流程负责人可以校验流程", "only process owners may validate processes")
    if unreadable:
        return list(unreadable)
    if not files:
        return [Problem("-", None, "没有提供任何文件", "no files given")]
    if oversized := _oversized(rt, files):
        return oversized
    try:
        with rt.db.reading() as session:
            _checked_bundle(session, files)
    except DeploymentRejected as exc:
        return list(exc.problems)
    return []


def deploy(rt: Runtime, files: list[SourceFile], actor: Actor, unreadable: list[Problem] = ()) -> list[DeployResult]:
    """Validate the files together and store a new version of each process whose content changed.

    `unreadable`: problems found reading the upload (read_uploads); any refuses the whole upload."""
    if not actor.has_role("process_owner", "admin"):
        raise PermissionDenied("只有流程负责人可以部署流程", "only process owners may deploy processes")
    if unreadable:
        raise DeploymentRejected(list(unreadable))
    if not files:
        raise DeploymentRejected([Problem("-", None, "没有提供任何文件", "no files given")])
    if oversized := _oversized(rt, files):
        raise DeploymentRejected(oversized)
    uploaded = {f.name for f in files}
    results: list[DeployResult] = []
    with rt.db.unit_of_work() as session:
        bundle, built = _checked_bundle(session, files)
        now = rt.clock.now()
        for process_id, process in sorted(built.items()):
            existing = session.scalars(select(ProcessVersion).where(
                ProcessVersion.process_id == process_id,
                ProcessVersion.bundle_hash == process.bundle_hash)).first()
            if existing is not None:
                results.append(DeployResult(process_id, existing.version, existing.id, False))
                continue
            number = (session.scalar(select(func.max(ProcessVersion.version))
                                     .where(ProcessVersion.process_id == process_id)) or 0) + 1
            version = ProcessVersion(process_id=process_id, version=number, name=process.name,
                                     bundle_hash=process.bundle_hash, deployed_at=now, deployed_by=actor.username)
            for file in process.files:
                _store_file(session, file, now)
                version.files.append(ProcessVersionFile(filename=file.name, sha256=file.sha256))
            session.add(version)
            session.flush()
            audit.record(session, at=now, actor=actor, action="deploy", subject=process_id,
                         detail={"version": number, "files": {f.name: f.sha256 for f in process.files}})
            results.append(DeployResult(process_id, number, version.id, True))
        results.extend(_deploy_decisions(session, bundle, uploaded, now, actor))
    return results


def _deploy_decisions(session: Session, bundle: Bundle, uploaded: set[str], now, actor: Actor) -> list[DeployResult]:
    """Each uploaded decision table is versioned on its own: reward rules change without a process."""
    results = []
    for decision_id, filename in sorted(bundle.decision_files.items()):
        if filename not in uploaded:
            continue
        file = bundle.files[filename]
        existing = session.scalars(select(DecisionVersion).where(DecisionVersion.decision_id == decision_id,
                                                                 DecisionVersion.sha256 == file.sha256)).first()
        if existing is not None:
            results.append(DeployResult(decision_id, existing.version, existing.id, False, "decision"))
            continue
        number = (session.scalar(select(func.max(DecisionVersion.version))
                                 .where(DecisionVersion.decision_id == decision_id)) or 0) + 1
        _store_file(session, file, now)
        session.flush()
        row = DecisionVersion(decision_id=decision_id, version=number, name=bundle.decision_names[decision_id],
                              filename=filename, sha256=file.sha256, deployed_at=now, deployed_by=actor.username)
        session.add(row)
        all_periods_changed(session)  # the reward tables are decisions: every period's rewards may change
        session.flush()
        audit.record(session, at=now, actor=actor, action="deploy", subject=decision_id,
                     detail={"version": number, "files": {filename: file.sha256}})
        results.append(DeployResult(decision_id, number, row.id, True, "decision"))
    return results


def latest_decision(session: Session, decision_id: str) -> DecisionVersion:
    row = session.scalars(select(DecisionVersion).where(DecisionVersion.decision_id == decision_id)
                          .order_by(DecisionVersion.version.desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"决策表 {decision_id} 尚未部署", f"decision table {decision_id} is not deployed")
    return row


def list_versions(rt: Runtime, process_id: str | None = None) -> list[ProcessVersion]:
    with rt.db.reading() as session:
        query = select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version.desc())
        if process_id:
            query = query.where(ProcessVersion.process_id == process_id)
        return list(session.scalars(query))


def latest_version(session: Session, process_id: str) -> ProcessVersion:
    version = find_latest_version(session, process_id)
    if version is None:
        raise NotFound(f"流程 {process_id} 尚未部署", f"process {process_id} is not deployed")
    return version
