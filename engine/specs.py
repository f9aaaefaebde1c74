"""Parsed specs per deployed version, built once per process from the stored files."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.bpmn.bundle import Bundle, SourceFile
from engine.models import ProcessVersion


@dataclass(frozen=True)
class LoadedVersion:
    version_id: int
    spec: object
    subprocess_specs: dict
    forms: dict[str, str]  # file name -> JSON Schema text


class SpecCache:
    """Version rows never change, so a parsed spec can be kept for the life of the process."""

    def __init__(self):
        self._loaded: dict[int, LoadedVersion] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, version_id: int) -> LoadedVersion:
        loaded = self._loaded.get(version_id)
        if loaded is None:
            # The parser refuses unknown service operators: a process that has not imported them yet
            # (a Celery worker, `kaohe launches run`) must register them before the first build.
            import engine.services.operators  # noqa: F401
            version = session.get(ProcessVersion, version_id)
            files = [SourceFile(f.filename, f.file.content) for f in version.files]
            built = Bundle(files, validate=False).build([version.process_id])[version.process_id]
            forms = {f.name: f.content for f in files if f.kind == "form"}
            loaded = LoadedVersion(version.id, built.spec, built.subprocess_specs, forms)
            with self._lock:
                self._loaded.setdefault(version.id, loaded)
        return loaded
