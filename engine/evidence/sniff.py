"""What kind of file an upload is, decided by its content and its extension together.

Only a short allowlist of document and image types is accepted. The browser's declared type is
ignored: the content type served back later is the one decided here, so a page can never be
smuggled in under an innocent name (HTML named .pdf, an .exe named .png).
"""
from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

from engine.errors import Message

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"
_OOXML_MAIN = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}
CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}
ALLOWED_EXTENSIONS = tuple(CONTENT_TYPES)
# Text that a browser could take for markup: "<" then a tag, a comment, a doctype or an XML declaration.
_MARKUP = re.compile(r"^\s*<[!?/a-zA-Z]")
_HEAD = 64


class Refused(Exception):
    """The upload is not an accepted file; carries the reason for the person."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.message = Message(zh, en)


def _extension(name: str) -> str:
    return Path(name).suffix.lower()


def _mismatch(ext: str) -> Refused:
    return Refused(f"文件内容与扩展名 {ext} 不符", f"the file's content does not match its extension {ext}")


def _binary_matches(ext: str, head: bytes) -> bool:
    if ext == ".pdf":
        return head.startswith(b"%PDF-")
    if ext == ".png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if ext in (".jpg", ".jpeg"):
        return head.startswith(b"\xff\xd8\xff")
    if ext == ".gif":
        return head[:6] in (b"GIF87a", b"GIF89a")
    if ext == ".webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if ext in (".doc", ".xls"):
        return head.startswith(OLE)
    return False


def _check_ooxml(ext: str, path: Path) -> None:
    """A zip package whose [Content_Types].xml declares the main part of this kind of document
    (a macro-enabled or other package does not pass as .docx/.xlsx/.pptx)."""
    try:
        with zipfile.ZipFile(path) as package:
            declared = package.read("[Content_Types].xml")[:1_000_000].decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, NotImplementedError) as exc:
        raise _mismatch(ext) from exc
    if _OOXML_MAIN[ext] not in declared:
        raise _mismatch(ext)


def _check_text(ext: str, path: Path) -> None:
    """UTF-8 throughout (a BOM allowed), no NUL, and not starting like HTML, SVG or XML."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    start = ""
    with path.open("rb") as stream:
        while chunk := stream.read(65536):
            if b"\x00" in chunk:
                raise _mismatch(ext)
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise Refused("文本文件必须是 UTF-8 编码", "a text file must be UTF-8 encoded") from exc
            if len(start) < _HEAD:
                start += text[:_HEAD]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise Refused("文本文件必须是 UTF-8 编码", "a text file must be UTF-8 encoded") from exc
    if _MARKUP.match(start):
        raise Refused("文本文件不能是网页或 XML 内容", "a text file must not contain a web page or XML")


def detect(name: str, path: Path) -> str:
    """The content type to store for the file at `path` uploaded as `name`; Refused if not accepted."""
    ext = _extension(name)
    if ext not in CONTENT_TYPES:
        allowed = " ".join(e.lstrip(".") for e in ALLOWED_EXTENSIONS)
        raise Refused(f"不支持的文件类型 {ext or '（无扩展名）'}，只接受：{allowed}",
                      f"file type {ext or '(none)'} is not accepted; accepted: {allowed}")
    with path.open("rb") as stream:
        head = stream.read(_HEAD)
    if ext in _OOXML_MAIN:
        if not head.startswith(ZIP):
            raise _mismatch(ext)
        _check_ooxml(ext, path)
    elif ext in (".txt", ".csv"):
        _check_text(ext, path)
    elif not _binary_matches(ext, head):
        raise _mismatch(ext)
    return CONTENT_TYPES[ext]
