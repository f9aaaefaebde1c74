"""Read a set of BPMN, DMN and form files together, the way a deployment sees them.

Everything a person could get wrong is collected as a Problem naming the file, the
element and what is wrong, so a deploy is refused whole with every reason at once.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser import VALIDATOR

from engine.bpmn import forms, service_operators
from engine.bpmn.expressions import expression_problems
from engine.bpmn.parser import KaoheBpmnParser
from engine.errors import DeploymentRejected, Problem
from engine.models.org import ROLES

_DOCTYPE_IN_PROLOG = re.compile(r"\ufeff?\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<!DOCTYPE", re.S)
# Entities are never expanded, no DTD or network is loaded, and libxml2's size guards stay on.
SAFE_XML = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
ROLE_CODE_LENGTH = 32  # task_candidate.role
KNOWN_LANE_NAMES = set(ROLES) | {zh for zh, _en in ROLES.values()}

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
# Camunda extensions that change how a process runs; kaohe runs the SpiffWorkflow dialect only.
CAMUNDA_EXECUTION_EXTENSIONS = {
    "decisionRef": "spiffworkflow:calledDecisionId", "collection": "bpmn:loopDataInputRef",
    "elementVariable": "bpmn:inputDataItem", "formData": "spiffworkflow:properties formJsonSchemaFilename",
    "formKey": "spiffworkflow:properties formJsonSchemaFilename", "inputOutput": "bpmn:dataInputAssociation",
    "class": None, "delegateExpression": None, "expression": None, "resultVariable": None,
    "taskListener": None, "executionListener": None, "connector": None,
}


def kind_of(filename: str) -> str | None:
    lowered = filename.lower()
    if lowered.endswith((".bpmn", ".bpmn20.xml")):
        return "bpmn"
    if lowered.endswith(".dmn"):
        return "dmn"
    if lowered.endswith(".json"):
        return "form"
    return None


@dataclass(frozen=True)
class SourceFile:
    name: str
    content: str

    @property
    def kind(self) -> str | None:
        return kind_of(self.name)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest()


@dataclass
class ProcessRefs:
    """What one bpmn:process element refers to outside itself."""

    file: str
    name: str
    executable: bool
    called: set[str] = field(default_factory=set)
    decisions: set[str] = field(default_factory=set)
    forms: set[str] = field(default_factory=set)
    call_sites: dict[str, str] = field(default_factory=dict)  # called process id -> callActivity id


@dataclass
class BuiltProcess:
    process_id: str
    name: str
    spec: object
    subprocess_specs: dict
    files: list[SourceFile]

    @property
    def bundle_hash(self) -> str:
        lines = sorted(f"{f.name}:{f.sha256}" for f in self.files)
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _element_id(node) -> str | None:
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _scan_bpmn(file: SourceFile, root, refs: dict[str, ProcessRefs], problems: list[Problem]) -> bool:
    """Collect references and refusable content; True when the file speaks another dialect (Camunda)."""
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        # Like SpiffWorkflow: a process is executable unless it says isExecutable="false".
        info = ProcessRefs(file.name, process.get("name") or process.get("id"),
                           process.get("isExecutable", "true") == "true")
        for node in process.iter():
            tag = _local(node)
            if tag == "callActivity" and node.get("calledElement"):
                info.called.add(node.get("calledElement"))
                info.call_sites.setdefault(node.get("calledElement"), node.get("id"))
            elif tag == "calledDecisionId" and node.text:
                info.decisions.add(node.text.strip())
            elif tag == "property" and node.get("name") == forms.FORM_PROPERTY and node.get("value"):
                info.forms.add(node.get("value"))
            elif tag == "serviceTaskOperator" and node.get("id") not in service_operators.OPERATORS:
                known = "、".join(sorted(service_operators.OPERATORS)) or "-"
                problems.append(Problem(file.name, _element_id(node.getparent()),
                                        f"未知的服务任务操作 {node.get('id')}（可用：{known}）",
                                        f"unknown service task operator {node.get('id')} (available: {known})",
                                        node.sourceline))
        refs[process.get("id")] = info
    found_before = len(problems)
    for node in root.iter():
        for attr in node.attrib:
            if attr.startswith(f"{{{CAMUNDA_NS}}}"):
                _camunda_problem(file, node, etree.QName(attr).localname, problems)
        if isinstance(node.tag, str) and node.tag.startswith(f"{{{CAMUNDA_NS}}}"):
            _camunda_problem(file, node, _local(node), problems)
    other_dialect = len(problems) > found_before
    _parameter_id_clashes(file, root, problems)
    _lane_problems(file, root, problems)
    problems.extend(expression_problems(file.name, root))
    return other_dialect


def _lane_problems(file: SourceFile, root, problems: list[Problem]) -> None:
    """A lane that names no known role offers its tasks to that name as a role code, which the task
    table holds in ROLE_CODE_LENGTH characters: refuse a longer one here, not at the first task."""
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        name = lane.get("name") or ""
        if name not in KNOWN_LANE_NAMES and len(name) > ROLE_CODE_LENGTH:
            problems.append(Problem(file.name, lane.get("id"),
                                    f"泳道名称「{name[:20]}…」有 {len(name)} 个字符：不是已知角色的泳道名称用作角色代码，"
                                    f"最多 {ROLE_CODE_LENGTH} 个字符",
                                    f"lane name '{name[:20]}…' has {len(name)} characters: a lane that names no known "
                                    f"role is used as a role code, at most {ROLE_CODE_LENGTH} characters",
                                    lane.sourceline))


def _parameter_id_clashes(file: SourceFile, root, problems: list[Problem]) -> None:
    """A service parameter named like a flow node: SpiffWorkflow finds the nodes a flow connects by
    id and would take the parameter for the node ("no support implemented for this task type")."""
    flow_nodes = {ref for node in root.iter(f"{{{BPMN_NS}}}*")
                  for ref in (node.get("sourceRef"), node.get("targetRef"), node.get("attachedToRef")) if ref}
    elements = {node.get("id") for node in root.iter(f"{{{BPMN_NS}}}*") if node.get("id") in flow_nodes}
    for node in root.iter():
        if _local(node) == "parameter" and node.get("id") in elements:
            owner = next((a.get("id") for a in node.iterancestors(f"{{{BPMN_NS}}}*") if a.get("id")), None)
            problems.append(Problem(file.name, owner,
                                    f"服务参数 {node.get('id')} 与流程元素同名，请改用其他元素编号",
                                    f"service parameter {node.get('id')} has the id of a BPMN element; "
                                    "give the element another id", node.sourceline))


def _camunda_problem(file: SourceFile, node, name: str, problems: list[Problem]) -> None:
    if name not in CAMUNDA_EXECUTION_EXTENSIONS:
        return
    instead = CAMUNDA_EXECUTION_EXTENSIONS[name]
    hint_zh = f"，请改用 {instead}" if instead else ""
    hint_en = f"; use {instead} instead" if instead else ""
    problems.append(Problem(file.name, _element_id(node),
                            f"不支持的扩展 camunda:{name}（kaohe 只运行 SpiffWorkflow 方言）{hint_zh}",
                            f"unsupported extension camunda:{name} (kaohe runs the SpiffWorkflow dialect){hint_en}",
                            node.sourceline))


def _problem_from_exception(filename: str, exc: Exception) -> Problem:
    if isinstance(exc, etree.XMLSyntaxError):
        return Problem(filename, None, f"XML 格式错误：{exc.msg}", f"XML syntax error: {exc.msg}", exc.lineno)
    if isinstance(exc, ValidationException):
        text = str(exc).split(". ")[0] if str(exc) else type(exc).__name__
        # SpiffWorkflow sometimes prints an lxml element ("<Element {ns}sourceRef at 0x…>"): name it instead.
        text = re.sub(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>", r"bpmn:\1", text)
        return Problem(exc.file_name or filename, exc.id or None, f"BPMN 校验失败：{text}",
                       f"BPMN validation failed: {text}", exc.line_number or None)
    return Problem(filename, getattr(exc, "id", None) or None, f"无法读取：{exc}", f"cannot be read: {exc}")


class Bundle:
    """The parsed form of a set of files; `build()` turns each executable process into a spec."""

    def __init__(self, files: list[SourceFile], *, validate: bool = True):
        self.files = {f.name: f for f in files}
        self.parser = KaoheBpmnParser(validator=VALIDATOR if validate else None)
        self.refs: dict[str, ProcessRefs] = {}
        self.decision_files: dict[str, str] = {}  # decision id -> file name
        self.decision_names: dict[str, str] = {}
        self.problems: list[Problem] = []          # a file could not be read at all
        self.content_problems: list[Problem] = []  # read, but something in it is refused
        self.other_dialect_files: set[str] = set()  # building these only repeats the dialect problem
        for file in files:
            self._add(file)

    def _add(self, file: SourceFile) -> None:
        if file.kind is None:
            self.problems.append(Problem(file.name, None, "不支持的文件类型（应为 .bpmn、.dmn 或 .json）",
                                         "unsupported file type (expected .bpmn, .dmn or .json)"))
            return
        if file.kind == "form":
            self.problems.extend(Problem(file.name, None, zh, en) for zh, en in forms.schema_problems(file.content))
            return
        # BPMN and DMN need no DTD; one only serves entity tricks (billion laughs, external files).
        no_dtd = Problem(file.name, None, "不允许 DOCTYPE 或实体声明（<!DOCTYPE …>、<!ENTITY …>）",
                         "a DOCTYPE or entity declaration (<!DOCTYPE …>, <!ENTITY …>) is not allowed")
        if _DOCTYPE_IN_PROLOG.match(file.content):
            self.problems.append(no_dtd)
            return
        try:
            root = etree.fromstring(file.content.encode("utf-8"), parser=SAFE_XML)
        except etree.XMLSyntaxError as exc:
            self.problems.append(_problem_from_exception(file.name, exc))
            return
        if root.getroottree().docinfo.doctype:  # however it got past the look at the prolog
            self.problems.append(no_dtd)
            return
        try:
            if file.kind == "bpmn":
                if _scan_bpmn(file, root, self.refs, self.content_problems):
                    self.other_dialect_files.add(file.name)
                self.parser.add_bpmn_xml(root, filename=file.name)
            else:
                self.content_problems.extend(expression_problems(file.name, root))
                self.parser.add_dmn_xml(root, filename=file.name)
                for decision_id, dmn_parser in self.parser.dmn_parsers.items():
                    if decision_id not in self.decision_files:
                        self.decision_files[decision_id] = file.name
                        self.decision_names[decision_id] = dmn_parser.get_name() or decision_id
                        self._check_decision(file.name, decision_id)
        except Exception as exc:  # Spiff raises several kinds; each is a reason to refuse, never a crash
            self.problems.append(_problem_from_exception(file.name, exc))

    def _check_decision(self, filename: str, decision_id: str) -> None:
        """A decision table is parsed only when a process calls it; parse it now to report errors early."""
        try:
            self.parser.dmn_parsers[decision_id].parse()
        except Exception as exc:
            self.content_problems.append(_problem_from_exception(filename, exc))

    def missing_references(self) -> tuple[set[str], set[str]]:
        """Called processes and form files that this bundle refers to but does not contain."""
        called = {c for r in self.refs.values() for c in r.called} - set(self.refs)
        wanted_forms = {f for r in self.refs.values() for f in r.forms} - set(self.files)
        return called, wanted_forms

    def add_supporting(self, files: list[SourceFile]) -> None:
        """Files fetched from earlier deployments to satisfy references (not versioned again)."""
        for file in files:
            if file.name not in self.files:
                self.files[file.name] = file
                self._add(file)

    def _closure(self, process_id: str) -> list[SourceFile]:
        seen, todo, names = set(), [process_id], set()
        while todo:
            current = todo.pop()
            if current in seen or current not in self.refs:
                continue
            seen.add(current)
            info = self.refs[current]
            names.add(info.file)
            names.update(self.decision_files[d] for d in info.decisions if d in self.decision_files)
            names.update(info.forms)
            todo.extend(info.called)
        return [self.files[n] for n in sorted(names) if n in self.files]

    def _build_problem(self, info: ProcessRefs | None, exc: Exception) -> Problem:
        problem = _problem_from_exception(info.file if info else "?", exc)
        if info is not None and problem.element is None:
            # "The process 'x' was not found": name the call activity that wants it.
            for called, call_site in info.call_sites.items():
                if f"'{called}'" in str(exc):
                    return Problem(problem.file, call_site, problem.zh, problem.en, problem.line)
        return problem

    def build(self, process_ids: list[str] | None = None) -> dict[str, BuiltProcess]:
        """Specs for the given (default: every executable) process; raises DeploymentRejected."""
        problems = list(self.problems)
        targets = process_ids or [pid for pid, info in self.refs.items() if info.executable]
        bpmn_files = [f for f in self.files.values() if f.kind == "bpmn"]
        if not targets and bpmn_files and not problems:
            problems.extend(Problem(f.name, None, "文件中没有可执行的流程（isExecutable=\"true\"）",
                                    'no executable process (isExecutable="true") in the file') for f in bpmn_files)
        built: dict[str, BuiltProcess] = {}
        if problems:  # files that could not be read leave the parser incomplete: stop here
            raise DeploymentRejected(problems)
        problems.extend(self.content_problems)  # ...but build anyway, to report structural problems too
        for process_id in targets:
            info = self.refs.get(process_id)
            if info is not None and info.file in self.other_dialect_files:
                continue
            try:
                spec = self.parser.get_spec(process_id)
                subprocess_specs = self.parser.get_subprocess_specs(process_id)
            except Exception as exc:
                problems.append(self._build_problem(info, exc))
                continue
            for form_name in info.forms if info else ():
                if form_name not in self.files:
                    problems.append(Problem(info.file, _task_using_form(spec, form_name),
                                            f"找不到表单文件 {form_name}", f"form file {form_name} not found"))
            built[process_id] = BuiltProcess(process_id, info.name if info else process_id, spec,
                                             subprocess_specs, self._closure(process_id))
        if problems:
            raise DeploymentRejected(problems)
        return built


def _task_using_form(spec, form_name: str) -> str | None:
    for task_spec in spec.task_specs.values():
        properties = getattr(task_spec, "extensions", {}).get("properties", {})
        if properties.get(forms.FORM_PROPERTY) == form_name:
            return task_spec.bpmn_id or task_spec.name
    return None
