"""A local folder as the blob store: content-addressed by sha256, atomic writes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from driftscope.errors import NotFound, StorageError
from driftscope.storage.base import BlobStore
from driftscope.types import BlobRef


def content_key(sha256: str) -> str:
    """``sha256/ab/abcdef...``: the key of content-addressed blobs."""
    return f"sha256/{sha256[:2]}/{sha256}"


def check_key(key: str) -> str:
    """A relative key without ``..`` or empty parts (keys come from config and ingest)."""
    parts = key.strip("/").split("/")
    if not key.strip("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"invalid blob key {key!r}")
    return "/".join(parts)


class LocalBlobStore(BlobStore):
    """Blobs as files under one folder; URIs are ``file:///abs/folder/key``."""

    scheme = "file"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, data: bytes, *, media_type: str, key: str | None = None) -> BlobRef:
        sha = hashlib.sha256(data).hexdigest()
        path = self._path(content_key(sha) if key is None else key)
        try:
            if key is not None or not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
                try:
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, path)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
        except OSError as exc:
            raise StorageError(f"cannot write blob {path}: {exc}") from exc
        return BlobRef(uri=path.as_uri(), sha256=sha, media_type=media_type, size=len(data))

    def _resolve(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise StorageError(f"not a file:// URI: {uri!r}")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"{uri!r} is outside the blob folder {str(self.root)!r}")
        return path

    def get(self, uri: str) -> bytes:
        path = self._resolve(uri)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"blob {uri!r} does not exist") from exc
        except OSError as exc:
            raise StorageError(f"cannot read blob {uri!r}: {exc}") from exc

    def url_for(self, uri: str, expires_s: int = 3600) -> str:
        # a local file has no signed URL; the server streams it by its URI
        return self._resolve(uri).as_uri()
