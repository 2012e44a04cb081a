"""Content-addressed file storage for documents.

A file is stored once under ``<storage_dir>/<sha256[:2]>/<sha256>``; the
``Document`` row keeps the relative ``storage_key`` (``"ab/ab12..."``) and the
hash. Identical bytes therefore share one file however many documents point at
them, and a retried activity that stores the same upload again is a no-op.
Files are written to a temporary name first and renamed into place, so a
reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from tenderdesk.config import Settings

_KEY_RE = re.compile(r"^([0-9a-f]{2})/(\1[0-9a-f]{62})$")


def storage_key_for(sha256: str) -> str:
    """The relative storage key of a file with the given hex SHA-256."""
    return f"{sha256[:2]}/{sha256}"


def store_bytes(settings: Settings, data: bytes) -> tuple[str, str]:
    """Store ``data`` (once) and return ``(storage_key, sha256)``."""
    sha256 = hashlib.sha256(data).hexdigest()
    key = storage_key_for(sha256)
    target = Path(settings.storage_dir) / key
    if target.is_file() and target.stat().st_size == len(data):
        return key, sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return key, sha256


def open_path(settings: Settings, storage_key: str) -> Path:
    """The path of a stored file. Rejects anything that is not a storage key,
    so a key taken from a request can never point outside ``storage_dir``."""
    if not _KEY_RE.match(storage_key):
        raise ValueError(f"invalid storage key: {storage_key!r}")
    return Path(settings.storage_dir) / storage_key


__all__ = ["open_path", "storage_key_for", "store_bytes"]
