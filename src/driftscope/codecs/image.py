"""Image uploads: a raw image body, or ``multipart/form-data`` with image file parts.

One record per image. The request is either

- a raw image: ``content-type: image/*``, or ``application/octet-stream`` (or
  none) whose first bytes are a JPEG, PNG, GIF, WebP, BMP or TIFF signature; or
- ``multipart/form-data`` with one or more file parts, each an image (a file
  part is one with a ``filename``, or whose content type is ``image/*`` or
  ``application/octet-stream``). The other parts are form fields: they become
  every record's features, numbers where the text is a JSON number (or the
  schema says ``continuous``), strings otherwise.

The response is JSON, read like :mod:`~driftscope.codecs.plain_json` does
(``schema.prediction_path`` / ``scores_path``): one prediction for one image,
a list of one prediction per image for several.

The image bytes do not go into the records: :meth:`ImageCodec.decode_with_attachments`
returns them as :class:`~driftscope.codecs.base.Attachment` objects and ingest
puts them into the blob store (``Record.inputs``, name ``image``). When Pillow
is installed, each record's features also get ``image_width`` and
``image_height`` read from the image header (no pixels are decoded); without
Pillow no size is stored.
"""

from __future__ import annotations

import io
import re
import warnings
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any

from driftscope.capture.exchange import Exchange
from driftscope.codecs.base import (
    Attachment,
    Codec,
    decode_content,
    make_records,
    parse_json,
    response_failed,
    scores_of,
)
from driftscope.codecs.kserve_v1 import split_prediction
from driftscope.codecs.plain_json import lookup
from driftscope.config.settings import ModelSettings
from driftscope.errors import CodecError
from driftscope.types import Record

#: Media types this codec can recognise by their first bytes.
SNIFFED_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff")
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
}
_KINDS = "JPEG, PNG, GIF, WebP, BMP or TIFF"
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_OCTET = "application/octet-stream"
_PAD_EOL = re.compile(rb"[ \t]*\r?\n")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENTITY_CTE = frozenset({"", "binary", "7bit", "8bit"})


def sniff(data: bytes) -> str | None:
    """The media type of an image recognised by its signature, else None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    # "BM" alone is too weak (text can start so): the DIB header size must be a known one
    if head.startswith(b"BM") and len(data) >= 18:
        if int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
            return "image/bmp"
    return None


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def image_media_type(declared: str, data: bytes, where: str) -> str:
    """The media type to store for ``data`` sent as ``declared``; CodecError if not an image.

    ``image/*`` types this codec can sniff must match an image signature (the
    sniffed type wins over the declared one); other ``image/*`` types (AVIF,
    HEIC, SVG...) are taken as declared. ``application/octet-stream`` or no
    type: the signature decides.
    """
    if not data:
        raise CodecError(f"{where}: empty, expected an image")
    sniffed = sniff(data)
    declared = _ALIASES.get(declared, declared)
    if declared.startswith("image/"):
        if sniffed is None and declared in SNIFFED_TYPES:
            raise CodecError(
                f"{where}: content-type {declared} but the bytes are not a {_KINDS} image "
                f"(they start with {data[:8]!r})"
            )
        return sniffed or declared
    if declared in ("", _OCTET):
        if sniffed is None:
            raise CodecError(
                f"{where}: content-type {declared or '(none)'} and the bytes are not a {_KINDS} "
                f"image (they start with {data[:8]!r})"
            )
        return sniffed
    raise CodecError(f"{where}: content-type {declared!r} is not an image")


_PIL: Any = None  # the PIL.Image module once imported; False when Pillow is missing


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the image header with Pillow (no pixels decoded), else None."""
    global _PIL
    if _PIL is None:
        try:
            from PIL import Image
        except ImportError:
            _PIL = False
        else:
            _PIL = Image
    if _PIL is False:
        return None
    try:
        with warnings.catch_warnings():
            # only the header is read: a huge declared size is no decompression bomb here
            warnings.simplefilter("ignore", _PIL.DecompressionBombWarning)
            with _PIL.open(io.BytesIO(data)) as im:
                width, height = im.size
                return int(width), int(height)
    except Exception:  # Pillow cannot read it: no size, the image is still stored
        return None


# -- multipart/form-data ---------------------------------------------------------------


def _param(header: str, name: str, param: str) -> str | None:
    """A parameter of a header value, quotes and RFC 2231 handled by the stdlib."""
    msg = Message()
    msg[name] = header
    value = msg.get_param(param, header=name)
    if value is None:
        return None
    if isinstance(value, tuple):
        return str(collapse_rfc2231_value(value))
    return str(value)


def _split_parts(body: bytes, boundary: bytes) -> list[bytes]:
    """The body parts between the delimiter lines (RFC 2046 section 5.1.1)."""
    delim = b"--" + boundary
    missing_close = (
        f"request: multipart body ends without the closing boundary "
        f"'--{boundary.decode('latin-1')}--' (truncated?)"
    )
    if body.startswith(delim):
        pos = len(delim)
    else:  # a preamble before the first delimiter line is ignored
        first = body.find(b"\n" + delim)
        if first < 0:
            raise CodecError(
                f"request: multipart body has no boundary line '--{boundary.decode('latin-1')}' "
                "(the content-type's boundary parameter)"
            )
        pos = first + 1 + len(delim)
    parts: list[bytes] = []
    while True:
        if body.startswith(b"--", pos):
            return parts  # the close delimiter; an epilogue after it is ignored
        eol = _PAD_EOL.match(body, pos)
        if eol is None:
            if pos >= len(body):
                raise CodecError(missing_close)
            raise CodecError(
                f"request: multipart boundary line is followed by {body[pos : pos + 8]!r}, "
                "expected a line break or '--'"
            )
        start = search = eol.end()
        while True:
            i = body.find(b"\n" + delim, search)
            if i < 0:
                raise CodecError(missing_close)
            after = i + 1 + len(delim)
            # "--boundaryX..." inside the data is no delimiter
            if after >= len(body) or body.startswith(b"--", after) or _PAD_EOL.match(body, after):
                break
            search = i + 1
        end = i - 1 if i > start and body[i - 1] == 0x0D else i
        parts.append(body[start:end])
        pos = after


def _part_headers(part: bytes, where: str) -> tuple[dict[str, str], bytes]:
    if part.startswith(b"\r\n"):
        return {}, part[2:]
    if part.startswith(b"\n"):
        return {}, part[1:]
    sep = part.find(b"\r\n\r\n")
    size = 4
    lf = part.find(b"\n\n")
    if sep < 0 or 0 <= lf < sep:
        sep, size = lf, 2
    if sep < 0:
        raise CodecError(f"{where}: no blank line between the part's headers and its content")
    headers: dict[str, str] = {}
    for line in part[:sep].decode("latin-1").replace("\r\n", "\n").split("\n"):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise CodecError(f"{where}: header line {line[:60]!r} is not 'Name: value'")
        headers[name.strip().lower()] = value.strip()
    return headers, part[sep + size :]


def _field_value(text: str, kind: str | None, name: str, where: str) -> Any:
    """A form field as a feature: a number where it reads as one (or must), else the text."""
    if kind in ("categorical", "text", "timestamp", "image"):
        return text
    stripped = text.strip()
    if _INT.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        value = float(stripped)
        if value not in (float("inf"), float("-inf")):
            return value
    if kind == "continuous":
        raise CodecError(f"{where}: form field {name!r} = {text[:40]!r} is not a number")
    return text


def parse_multipart(
    body: bytes, content_type: str, model: ModelSettings
) -> tuple[list[tuple[bytes, str]], dict[str, Any]]:
    """(image bytes and media type per file part, the form fields as features)."""
    boundary = _param(content_type, "content-type", "boundary")
    if not boundary:
        raise CodecError(
            "request: content-type multipart/form-data without a boundary parameter "
            f"({content_type!r})"
        )
    kinds = {f.name: f.type for f in model.model_schema.features}
    images: list[tuple[bytes, str]] = []
    fields: dict[str, Any] = {}
    for n, part in enumerate(_split_parts(body, boundary.encode("latin-1")), start=1):
        where = f"request: multipart part {n}"
        headers, data = _part_headers(part, where)
        disposition = headers.get("content-disposition", "")
        name = _param(disposition, "content-disposition", "name") if disposition else None
        if _media_type(disposition) != "form-data" or name is None:
            raise CodecError(f"{where}: no 'content-disposition: form-data; name=...' header")
        where = f"{where} (field {name!r})"
        cte = headers.get("content-transfer-encoding", "").strip().lower()
        if cte not in _IDENTITY_CTE:
            raise CodecError(f"{where}: content-transfer-encoding {cte!r} is not supported")
        ctype = _media_type(headers.get("content-type", ""))
        filename = _param(disposition, "content-disposition", "filename")
        if filename is not None or ctype.startswith("image/") or ctype == _OCTET:
            images.append((data, image_media_type(ctype, data, where)))
            continue
        if name in fields:
            raise CodecError(f"{where}: form field {name!r} appears twice")
        charset = _param(headers.get("content-type", ""), "content-type", "charset") or "utf-8"
        try:
            text = data.decode(charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise CodecError(f"{where}: form field is not {charset} text: {exc}") from exc
        fields[name] = _field_value(text, kinds.get(name), name, where)
    if not images:
        raise CodecError(
            "request: multipart/form-data has no file part (expected one or more images)"
        )
    return images, fields


# -- predictions -----------------------------------------------------------------------


def _per_image(node: Any, n: int, where: str) -> list[Any]:
    """One value per image: the node itself for one image, a list of ``n`` for several."""
    if n == 1:
        if isinstance(node, list) and len(node) == 1 and isinstance(node[0], dict | list):
            return [node[0]]  # a list holding the one image's prediction
        return [node]
    if not isinstance(node, list):
        raise CodecError(
            f"{where}: {n} images were sent, expected a list of {n} predictions, "
            f"got {type(node).__name__}"
        )
    if len(node) != n:
        raise CodecError(f"{where}: {len(node)} predictions for {n} images")
    return node


class ImageCodec(Codec):
    """Raw image and multipart uploads in, a JSON answer out; one record per image."""

    name = "image"
    attachments = True

    def decode(self, exchange: Exchange, model: ModelSettings) -> list[Record]:
        """The records without their images (use :meth:`decode_with_attachments`)."""
        return self.decode_with_attachments(exchange, model)[0]

    def decode_with_attachments(
        self, exchange: Exchange, model: ModelSettings
    ) -> tuple[list[Record], list[Attachment]]:
        body = decode_content(exchange.request_body, exchange.request_headers, "request")
        content_type = exchange.request_headers.get("content-type", "")
        media = _media_type(content_type)
        if media == "multipart/form-data":
            images, fields = parse_multipart(body, content_type, model)
        elif media.startswith("multipart/"):
            raise CodecError(f"request: content-type {media}, expected multipart/form-data")
        else:
            images, fields = [(body, image_media_type(media, body, "request"))], {}
        features: list[dict[str, Any]] = []
        for data, _ in images:
            size = image_size(data)
            row = dict(fields)
            if size is not None:
                row["image_width"], row["image_height"] = size
            features.append(row)
        attachments = [
            Attachment(i, data, media_type, "image") for i, (data, media_type) in enumerate(images)
        ]
        version = exchange.model_version
        failed = response_failed(exchange)
        if failed is not None:
            records = make_records(exchange, model, features, None, None, version, failed)
            return records, attachments
        schema = model.model_schema
        rbody = decode_content(exchange.response_body, exchange.response_headers, "response")
        rdoc = parse_json(rbody, "response")
        where = f"response.{schema.prediction_path or '<root>'}"
        pnode = lookup(rdoc, schema.prediction_path, "response", "prediction_path")
        n = len(images)
        pairs = [
            split_prediction(v, model, where if n == 1 else f"{where}[{i}]")
            for i, v in enumerate(_per_image(pnode, n, where))
        ]
        preds = [p for p, _ in pairs]
        scores: list[Any] | None = [s for _, s in pairs]
        if schema.scores_path:
            swhere = f"response.{schema.scores_path}"
            snode = lookup(rdoc, schema.scores_path, "response", "scores_path")
            scores = [scores_of(s, model, swhere) for s in _per_image(snode, n, swhere)]
        elif scores is not None and all(s is None for s in scores):
            scores = None
        return make_records(exchange, model, features, preds, scores, version), attachments
