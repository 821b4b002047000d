"""The codec registry: built-ins, unknown names, import paths, completeness."""

from __future__ import annotations

import pytest

import driftscope.codecs as codecs_pkg
from driftscope.codecs import Codec, codecs, get_codec
from driftscope.errors import PluginError
from driftscope.types import Protocol


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_subclasses(sub)}
    return out


def test_every_protocol_has_a_codec():
    for protocol in Protocol:
        codec = get_codec(protocol.value)
        assert isinstance(codec, Codec) and codec.name == protocol.value
        assert get_codec(protocol) is codec  # the enum member works too, and codecs are shared


def test_every_builtin_codec_is_registered():
    builtin = {c for c in _subclasses(Codec) if c.__module__.startswith("driftscope.")}
    assert builtin == {codecs.get(n) for n in ("oip_v2", "kserve_v1", "json", "image")}


def test_unknown_codec_lists_the_valid_ones():
    with pytest.raises(
        PluginError, match="unknown codecs plugin 'grpc'; valid: image, json, kserve_v1, oip_v2"
    ):
        get_codec("grpc")


def test_import_path_fallback_and_type_check():
    assert isinstance(get_codec("driftscope.codecs.plain_json:PlainJSONCodec"), Codec)
    with pytest.raises(PluginError, match="is not a driftscope.codecs.Codec subclass"):
        get_codec("driftscope.types:Record")


def test_public_names():
    assert set(codecs_pkg.__all__) <= set(dir(codecs_pkg))
