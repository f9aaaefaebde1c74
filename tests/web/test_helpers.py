"""The web layer's pure helpers: schema forms, typed conversion, the fallback diagram layout, catalogues."""
from __future__ import annotations

import os
import shutil

from lxml import etree
from werkzeug.datastructures import MultiDict

from tests.support.files import data_file
from web import forms_render
from web.diagram_layout import BPMNDI_NS, with_layout
from web.i18n import TRANSLATIONS, compile_catalogs

SCHEMA = {
    "type": "object",
    "required": ["score", "level"],
    "properties": {
        "score": {"type": "integer", "title": "得分", "minimum": 0, "maximum": 10, "description": "整数"},
        "ratio": {"type": "number", "multipleOf": 0.5},
        "level": {"type": "string", "enum": ["A", "B"], "enumNames": ["优秀", "良好"]},
        "pick": {"oneOf": [{"const": 1, "title": "一"}, {"const": 2, "title": "二"}]},
        "agree": {"type": "boolean", "title": "同意"},
        "name": {"type": "string", "maxLength": 20},
        "story": {"type": "string", "maxLength": 2000},
        "items": {"type": "array"},
        "locked": {"type": "string", "readOnly": True},
    },
}


def test_widgets_follow_the_schema():
    fields = {f.name: f for f in forms_render.build_fields(SCHEMA, {"score": 7, "agree": True, "pick": 2})}
    assert fields["score"].widget == "number" and fields["score"].attrs == {
        "min": "0", "max": "10", "step": "1", "inputmode": "numeric"}
    assert (fields["score"].label, fields["score"].help, fields["score"].required, fields["score"].value) == (
        "得分", "整数", True, "7")
    assert fields["ratio"].attrs["step"] == "0.5" and fields["ratio"].label == "ratio"
    assert fields["level"].widget == "select" and fields["level"].options == [("A", "优秀"), ("B", "良好")]
    assert fields["pick"].options == [("1", "一"), ("2", "二")] and fields["pick"].value == "2"
    assert fields["agree"].widget == "checkbox" and fields["agree"].checked
    assert fields["name"].widget == "text" and fields["name"].attrs["maxlength"] == "20"
    assert fields["story"].widget == "textarea" and fields["items"].widget == "json"
    assert fields["locked"].readonly


def test_posted_strings_become_the_schemas_types():
    posted = MultiDict({"score": "8", "ratio": "2.5", "level": "B", "pick": "1", "agree": "true",
                        "name": "张三",
                        "story": "", "items": "[1, 2]", "locked": "changed", "csrf_token": "x", "extra": "y"})
    assert forms_render.convert(SCHEMA, posted) == {
        "score": 8, "ratio": 2.5, "level": "B", "pick": 1, "agree": True, "name": "张三", "items": [1, 2]}


def test_unreadable_values_stay_strings_for_the_validation_to_name():
    posted = MultiDict({"score": "7.5", "ratio": "nan", "items": "[1,", "level": "Z"})
    assert forms_render.convert(SCHEMA, posted) == {
        "score": "7.5", "ratio": "nan", "items": "[1,", "level": "Z", "agree": False}
    assert forms_render.convert(SCHEMA, MultiDict({"score": "3.0"}))["score"] == 3


def test_a_diagram_without_coordinates_gets_a_layout_and_one_with_them_is_untouched():
    source = data_file("review.bpmn").content
    laid_out = etree.fromstring(with_layout(source, "review").encode())
    shapes = {s.get("bpmnElement") for s in laid_out.iter(f"{{{BPMNDI_NS}}}BPMNShape")}
    edges = {e.get("bpmnElement") for e in laid_out.iter(f"{{{BPMNDI_NS}}}BPMNEdge")}
    assert shapes == {"start", "self_assess", "score", "approve", "gw", "end"}
    assert edges == {"f1", "f2", "f3", "f4", "f_ok", "f_back"}
    drawn = etree.tostring(laid_out, encoding="unicode")
    assert with_layout(drawn, "review") == drawn


def test_catalogues_compile_once_and_again_when_the_po_changes(tmp_path):
    shutil.copytree(TRANSLATIONS, tmp_path / "t", ignore=shutil.ignore_patterns("*.mo"))
    assert [p.name for p in compile_catalogs(tmp_path / "t")] == ["messages.mo"]
    assert compile_catalogs(tmp_path / "t") == []
    po = tmp_path / "t" / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    po.touch()
    os.utime(mo, (mo.stat().st_atime, po.stat().st_mtime - 10))
    assert len(compile_catalogs(tmp_path / "t")) == 1


def test_every_english_message_is_translated():
    from babel.messages.pofile import read_po
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == [] and len(catalog) > 50


def test_no_message_is_translated_twice():
    """A second msgid of the same text (without its own msgctxt) silently replaces the first."""
    seen, duplicates = set(), []
    context = None
    for line in (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8").splitlines():
        if line.startswith("msgctxt "):
            context = line
        elif line.startswith("msgid "):
            key = (context, line)
            if key in seen:
                duplicates.append(line)
            seen.add(key)
            context = None
    assert duplicates == []


def test_row_urls_built_once_match_url_for_for_every_id_and_under_a_script_root(rt):
    from flask import url_for

    from web import create_app
    from web.templating import id_url
    app = create_app({"TESTING": True, "START_SCHEDULER": False, "KAOHE_RUNTIME": rt})
    for root in ("", "/kaohe"):
        with app.test_request_context("/tasks", base_url=f"http://localhost{root}"):
            show, claim = id_url("task.show", "task_id"), id_url("inbox.claim", "task_id")
            for task_id in (1, 42, 2147483646, 2147483647):
                assert show(task_id) == url_for("task.show", task_id=task_id)
                assert claim(task_id) == url_for("inbox.claim", task_id=task_id)
            assert show(7).startswith(f"{root}/")
