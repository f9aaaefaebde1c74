"""Files chosen in a task form's file inputs, stored through the evidence service before completing."""
from __future__ import annotations

from werkzeug.datastructures import MultiDict

from engine.errors import Message, ValidationFailed
from engine.evidence import references
from engine.runtime import Actor, Runtime
from engine.services import evidence


def store_chosen_files(rt: Runtime, actor: Actor, task_id: int, schema: dict | None, files: MultiDict,
                       submitted: dict) -> dict[str, Message]:
    """Store every chosen file and add its reference to `submitted` (after the ones kept on the page).

    Each file is kept as soon as it is accepted, so a refused file or a mistake elsewhere in the
    form loses nothing already uploaded. Returns the refused files' messages by field."""
    errors: dict[str, Message] = {}
    for name, multiple in references.file_fields(schema).items():
        for upload in files.getlist(name):
            if not upload or not upload.filename:
                continue  # an empty file input
            try:
                ref = evidence.store(rt, actor, task_id, name, upload.filename, upload.stream)
            except ValidationFailed as refused:
                errors.update(refused.field_errors)
                continue
            if multiple:
                kept = submitted.get(name)
                submitted[name] = (kept if isinstance(kept, list) else []) + [ref]
            else:
                submitted[name] = ref
    return errors
