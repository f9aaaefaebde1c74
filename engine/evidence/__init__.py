"""Evidence files (整改佐证, 检查发现的证据) attached to task forms.

The form convention: a form property whose schema has ``"format": "kaohe-file"`` on an object
holds one file; an array whose ``items`` are ``{"type": "object", "format": "kaohe-file"}``
holds several (``maxItems`` limits how many)::

    "attachments": {"type": "array", "title": "佐证材料", "maxItems": 10,
                    "items": {"type": "object", "format": "kaohe-file"}}

File fields are top-level properties of a form. In the task data a stored file is the reference
``{"sha256", "name", "size", "content_type"}``; the bytes live once per content under
``KAOHE_FILES_DIR/ab/<sha256>`` (``ab`` = the digest's first two characters).

* ``sniff``: which uploads are accepted: the content (magic bytes) and the extension must agree.
* ``storage``: the content-addressed store (atomic writes, size limit while streaming).
* ``references``: finding file fields in a form and file references in data, and checking
  submitted references against the uploads recorded for the instance.
"""
