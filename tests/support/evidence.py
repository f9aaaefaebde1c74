"""Small files of every accepted and refused kind, and a review process whose form takes files."""
from __future__ import annotations

import io
import zipfile

from tests.support.files import data_file

SUMMARY = '"summary": {"type": "string", "title": "工作说明", "minLength": 2, "maxLength": 500}'
FILE_FIELDS = (SUMMARY + ''',
    "attachments": {"type": "array", "title": "佐证材料", "maxItems": 3,
                    "items": {"type": "object", "format": "kaohe-file"}},
    "photo": {"type": "object", "title": "现场照片", "format": "kaohe-file"}''')

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 10
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60


def ooxml(main: str) -> bytes:
    """A minimal Office Open XML package declaring `main` (e.g. 'wordprocessingml.document')."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Override PartName="/main.xml" ContentType="application/vnd.openxmlformats-officedocument.{main}.main+xml"/>'
            '</Types>'))
        package.writestr("main.xml", "<x/>")
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("readme.txt", "hello")
    return buffer.getvalue()


def review_with_files_bundle():
    return [data_file("review.bpmn"), data_file("self_assess.json", {SUMMARY: FILE_FIELDS})]
