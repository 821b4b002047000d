"""Codecs: wire protocols -> canonical records.

Built-ins ``oip_v2``, ``kserve_v1``, ``json`` and ``image``; third-party codecs register
through the ``driftscope.codecs`` entry-point group (or a ``module:Class`` path).
"""

from __future__ import annotations

from driftscope.codecs.base import Attachment, Codec
from driftscope.codecs.image import ImageCodec
from driftscope.codecs.kserve_v1 import KServeV1Codec
from driftscope.codecs.oip_v2 import OIPv2Codec, request_id_from_oip
from driftscope.codecs.plain_json import PlainJSONCodec
from driftscope.errors import PluginError
from driftscope.registry import Registry

__all__ = [
    "Attachment",
    "Codec",
    "ImageCodec",
    "KServeV1Codec",
    "OIPv2Codec",
    "PlainJSONCodec",
    "codecs",
    "get_codec",
    "request_id_from_oip",
]

codecs: Registry[type[Codec]] = Registry("codecs")
for _cls in (OIPv2Codec, KServeV1Codec, PlainJSONCodec, ImageCodec):
    codecs.add(_cls.name, _cls)

_instances: dict[str, Codec] = {}


def get_codec(protocol: str) -> Codec:
    """The codec instance for a protocol name (codecs are stateless and shared)."""
    key = getattr(protocol, "value", protocol)
    codec = _instances.get(key)
    if codec is None:
        cls = codecs.get(key)
        if not (isinstance(cls, type) and issubclass(cls, Codec)):
            raise PluginError(f"codec plugin {key!r} is not a driftscope.codecs.Codec subclass")
        codec = _instances[key] = cls()
    return codec
