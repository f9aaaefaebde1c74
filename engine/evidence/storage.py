"""The content-addressed file store: ``<root>/ab/<sha256>``, each content written once, atomically.

An upload is first streamed to a temporary file in the store's root (hashing and counting as it
goes, never holding it whole in memory), then moved into place with os.replace, so a reader never
sees half a file and two uploads of the same content leave one copy.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 64 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class TooLarge(Exception):
    """The stream went past the limit; nothing of it is kept."""


@dataclass
class Staged:
    """An upload written to a temporary file, not yet in the store."""

    path: Path
    sha256: str
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def path_for(root: Path, sha256: str) -> Path:
    if not SHA256.match(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return root / sha256[:2] / sha256


def stage(root: Path, stream: BinaryIO, max_bytes: int) -> Staged:
    """Copy `stream` to a temporary file under `root`, in chunks; TooLarge once it exceeds `max_bytes`."""
    root.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".upload-", dir=root)
    path, digest, size = Path(name), hashlib.sha256(), 0
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge()
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(path, digest.hexdigest(), size)


def commit(root: Path, staged: Staged) -> Path:
    """Move a staged file to its place; if that content is already stored, keep the stored copy."""
    target = path_for(root, staged.sha256)
    if target.is_file() and target.stat().st_size == staged.size:
        staged.discard()
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(staged.path, 0o640)
    os.replace(staged.path, target)
    return target
