"""The long work a background job can do (engine/services/jobs.py): each kind checks at submit time
that the person may do it (so a refusal is immediate), and runs the existing service with a progress
callback. The services still check again when the job runs: roles may have changed meanwhile."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ValidationFailed
from engine.runtime import Actor, Runtime
from engine.services.jobs import JobRefused, Outcome
from engine.services.progress import Report

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KIND_NAMES = {"org_export": ("导出组织表", "organisation export"), "org_import": ("导入组织表", "organisation import"),
              "scores_template": ("生成成绩表", "score workbook"), "scores_import": ("导入成绩表", "score import"),
              "audit_export": ("导出审计记录", "audit trail export"), "results_export": ("导出考核结果", "results export"),
              "tracker_export": ("导出整改问题", "rectification export"),
              "results_compute": ("更新考核结果", "results update")}


@dataclass(frozen=True)
class Kind:
    check: Callable[[Runtime, Actor, dict], None]
    run: Callable[[Runtime, Actor, dict, Path | None, Report], Outcome]


def kind_name(kind: str, language: str = "zh") -> str:
    zh, en = KIND_NAMES.get(kind, (kind, kind))
    return en if language.startswith("en") else zh


def _upload(path: Path | None) -> bytes:
    if path is None or not path.is_file():
        raise ValidationFailed("上传的文件已不在服务器上，请重新上传", "the uploaded file is gone; please upload it again")
    return path.read_bytes()


# --- organisation --------------------------------------------------------------------------------

def _check_reader(rt, actor, params) -> None:
    from engine.services.admin_access import require_reader
    require_reader(actor)


def _org_export(rt, actor, params, upload, report) -> Outcome:
    from engine.services import org_admin
    data = org_admin.export_xlsx(rt, actor, params.get("language", "zh"), progress=report)
    return Outcome(data, "org.xlsx", XLSX)


def _check_manager(rt, actor, params) -> None:
    from engine.services.admin_access import require_manager
    require_manager(actor)


def _org_import(rt, actor, params, upload, report) -> Outcome:
    from engine.services.org_io import OrgImportRejected, import_org
    try:
        done = import_org(rt, [(params["filename"], _upload(upload))], actor, progress=report)
    except OrgImportRejected as rejected:
        raise JobRefused(rejected, {"problems": [
            {"file": p.file, "sheet": p.sheet, "row": p.row, "column": p.column, "zh": p.zh, "en": p.en}
            for p in rejected.problems]}) from None
    return Outcome(summary={"lines_zh": done.lines("zh"), "lines_en": done.lines("en"),
                            "units_created": done.units_created, "units_updated": done.units_updated,
                            "people_created": done.people_created, "people_updated": done.people_updated})


# --- scores --------------------------------------------------------------------------------------

def _check_scorer(rt, actor, params) -> None:
    from engine.services.score_sheets import permitted_groups, valid_period
    if "period" in params and not valid_period(params["period"]):
        period = params["period"]
        raise ValidationFailed(f"期间 {period} 无效，应为 YYYY-MM", f"period {period} is not a valid YYYY-MM")
    with rt.db.reading() as session:
        permitted_groups(session, actor)


def _scores_template(rt, actor, params, upload, report) -> Outcome:
    from engine.services import score_sheets
    period, group = params["period"], params.get("group") or None
    data = score_sheets.write_template(rt, period, actor, group, progress=report)
    return Outcome(data, f"scores-{period}{'-' + group if group else ''}.xlsx", XLSX)


def _scores_import(rt, actor, params, upload, report) -> Outcome:
    from engine.services import score_sheets
    from engine.services.score_sheets_import import ScoreSheetRejected
    try:
        done = score_sheets.import_scores(rt, _upload(upload), params["filename"], actor, progress=report)
    except ScoreSheetRejected as rejected:
        raise JobRefused(rejected, {"problems": [
            {"sheet": p.sheet, "row": p.row, "column": p.column, "zh": p.message.zh, "en": p.message.en}
            for p in rejected.problems]}) from None
    return Outcome(summary={"lines_zh": done.lines("zh"), "lines_en": done.lines("en")})


# --- audit trail, results, rectifications ----------------------------------------------------------

def _check_trail_reader(rt, actor, params) -> None:
    from engine.services.audit_export import _check_format, require_trail_reader
    require_trail_reader(actor)
    _check_format(params.get("fmt", "xlsx"))


def _audit_export(rt, actor, params, upload, report) -> Outcome:
    from engine.services.audit_export import export_chain
    export = export_chain(rt, actor, params.get("fmt", "xlsx"), params.get("language", "zh"), progress=report)
    return Outcome(export.content, export.filename, export.mimetype, {"events": export.events})


def _check_results_reader(rt, actor, params) -> None:
    from engine.services.result_views import require_full_export
    require_full_export(rt, actor, params["label"])


def _results_export(rt, actor, params, upload, report) -> Outcome:
    from engine.services import result_views
    label = params["label"]
    data = result_views.export_xlsx(rt, actor, label, params.get("language", "zh"), progress=report)
    return Outcome(data, f"kaohe-results-{label}.xlsx", XLSX)


def _check_tracker_reader(rt, actor, params) -> None:
    """Whoever may open the tracker (refused at once otherwise); the work itself keeps to their cases."""
    from engine.services import tracker
    tracker.visible(actor, tracker.Filters(), rt.clock.now())


def _tracker_export(rt, actor, params, upload, report) -> Outcome:
    from engine.services import tracker_export
    from engine.services.tracker import Filters
    wanted = {k: v for k, v in params.get("filters", {}).items()
              if k in ("round_id", "unit_id", "stage", "overdue")}
    data = tracker_export.export_xlsx(rt, actor, Filters(**wanted), params.get("language", "zh"), progress=report)
    return Outcome(data, "rectifications.xlsx", XLSX)


def _check_results_system(rt, actor, params) -> None:
    from engine.services import result_jobs  # the system's own job: see result_jobs
    result_jobs.check(rt, actor, params)


def _results_compute(rt, actor, params, upload, report) -> Outcome:
    from engine.services import result_jobs
    return result_jobs.run(rt, actor, params, upload, report)


KINDS: dict[str, Kind] = {
    "org_export": Kind(_check_reader, _org_export),
    "org_import": Kind(_check_manager, _org_import),
    "scores_template": Kind(_check_scorer, _scores_template),
    "scores_import": Kind(_check_scorer, _scores_import),
    "audit_export": Kind(_check_trail_reader, _audit_export),
    "results_export": Kind(_check_results_reader, _results_export),
    "tracker_export": Kind(_check_tracker_reader, _tracker_export),
    "results_compute": Kind(_check_results_system, _results_compute),
}
