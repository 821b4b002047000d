"""The image codec: raw and multipart uploads, JSON answers, the bytes as attachments."""

from __future__ import annotations

import gzip
import io
import struct
import zlib

import orjson
import pytest

import driftscope.codecs.image as image_mod
from driftscope.codecs import ImageCodec, get_codec
from driftscope.codecs.image import sniff
from driftscope.collector.routing import Router
from driftscope.config.settings import ModelSettings, Settings
from driftscope.errors import CodecError

IMAGE = get_codec("image")
CLASSES = ["cat", "dog"]
BOUNDARY = "----driftscope-test-7MA4YWxkTrZu0gW"


def png(width: int, height: int, seed: int = 0) -> bytes:
    """A valid RGB PNG built with zlib and struct (pixels vary with ``seed``)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + bytes((x * 7 + y * 13 + seed) % 256 for x in range(width * 3))
        for y in range(height)
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pillow_image(fmt: str, width: int, height: int) -> bytes:
    pil = pytest.importorskip("PIL.Image")
    out = io.BytesIO()
    pil.new("RGB", (width, height), (200, 30, 90)).save(out, format=fmt)
    return out.getvalue()


def gif(width: int, height: int) -> bytes:
    """A GIF header and logical screen size: enough to sniff (Pillow reads no size from it)."""
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00" + b"\x00" * 6 + b";"


def multipart(parts: list[tuple[str, str | None, str | None, bytes]], boundary: str = BOUNDARY):
    """(name, filename, content type, data) parts as a browser sends them."""
    out = b""
    for name, filename, ctype, data in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += disposition.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def mp_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/form-data; boundary={boundary}"


def model(**schema) -> ModelSettings:
    task = schema.pop("task", "image_classification")
    schema.setdefault("classes", CLASSES)
    return ModelSettings(
        name="m",
        upstream="http://127.0.0.1:9",
        protocol="image",
        path_prefix="/predict",
        version="cfg-1",
        task=task,
        schema=schema,
    )


@pytest.fixture
def ex(make_exchange):
    def build(body: bytes, response, content_type: str = "image/png", **kw):
        headers = {"content-type": content_type, **kw.pop("request_headers", {})}
        return make_exchange(
            body, response, protocol="image", path="/predict", request_headers=headers, **kw
        )

    return build


def test_registered_under_image():
    assert isinstance(IMAGE, ImageCodec) and IMAGE.name == "image" and IMAGE.attachments


def test_raw_png_one_record_with_label_scores_and_the_bytes(ex):
    img = png(7, 5)
    resp = {"result": {"label": "dog", "probs": [0.25, 0.75]}}
    m = model(prediction_path="result.label", scores_path="result.probs")
    records, attachments = IMAGE.decode_with_attachments(ex(img, resp), m)
    (rec,) = records
    assert (rec.request_id, rec.row_index, rec.model_version) == ("req-1", 0, "cfg-1")
    assert rec.prediction == "dog" and rec.scores == {"cat": 0.25, "dog": 0.75}
    assert rec.inputs == []  # ingest fills them from the attachments
    (att,) = attachments
    assert (att.row, att.data, att.media_type, att.name) == (0, img, "image/png", "image")
    if image_mod.image_size(img) is not None:  # Pillow installed
        assert rec.features == {"image_width": 7, "image_height": 5}
    # decode() gives the same records, without the bytes
    (plain,) = IMAGE.decode(ex(img, resp), m)
    assert (plain.prediction, plain.scores, plain.features) == (
        rec.prediction,
        rec.scores,
        rec.features,
    )


def test_sizes_read_with_pillow_from_the_header():
    pytest.importorskip("PIL")
    assert image_mod.image_size(png(31, 17)) == (31, 17)
    assert image_mod.image_size(pillow_image("JPEG", 40, 24)) == (40, 24)
    assert image_mod.image_size(pillow_image("GIF", 9, 4)) == (9, 4)
    assert image_mod.image_size(b"\x89PNG\r\n\x1a\ntruncated") is None  # stored, no size


def test_without_pillow_no_size_is_stored(ex, monkeypatch):
    monkeypatch.setattr(image_mod, "_PIL", False)
    (rec,) = IMAGE.decode(ex(png(3, 3), {"label": "cat"}), model())
    assert rec.features == {} and rec.prediction == "cat"


def test_octet_stream_is_sniffed_and_a_score_vector_gives_label_and_scores(ex):
    jpeg = pillow_image("JPEG", 16, 12)
    records, (att,) = IMAGE.decode_with_attachments(
        ex(jpeg, [0.9, 0.1], content_type="application/octet-stream"), model()
    )
    assert att.media_type == "image/jpeg" and att.data == jpeg
    assert records[0].prediction == "cat" and records[0].scores == {"cat": 0.9, "dog": 0.1}
    assert records[0].features == {"image_width": 16, "image_height": 12}


@pytest.mark.parametrize(
    ("data", "media"),
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (png(1, 1), "image/png"),
        (gif(1, 1), "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20, "image/webp"),
        (b"BM" + b"\x00" * 12 + struct.pack("<I", 40) + b"\x00" * 20, "image/bmp"),
        (b"II*\x00\x08\x00\x00\x00" + b"\x00" * 8, "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 8, "image/tiff"),
        (b"BMW is a car, not a bitmap", None),
        (b'{"label": "cat"}', None),
    ],
)
def test_sniff(data, media):
    assert sniff(data) == media


def test_gzip_request_and_response(ex):
    img = png(4, 4, seed=3)
    exchange = ex(
        gzip.compress(img),
        gzip.compress(orjson.dumps({"label": "cat"})),
        request_headers={"content-encoding": "gzip"},
        response_headers={"content-encoding": "gzip"},
    )
    records, (att,) = IMAGE.decode_with_attachments(exchange, model())
    assert att.data == img and records[0].prediction == "cat"


def test_multipart_one_file_and_form_fields(ex):
    img = png(6, 2)
    body = multipart(
        [
            ("camera", None, None, b"gate-3"),
            ("zip", None, None, b"01234"),
            ("exposure", None, None, b"0.125"),
            ("iso", None, None, b"400"),
            ("shelf", None, "text/plain; charset=utf-8", "étagère".encode()),
            ("file", "photo.png", "image/png", img),
        ]
    )
    m = model(features=[{"name": "iso", "type": "categorical"}], prediction_path="label")
    records, (att,) = IMAGE.decode_with_attachments(
        ex(body, {"label": "cat"}, content_type=mp_type()), m
    )
    (rec,) = records
    assert att.data == img and att.media_type == "image/png"
    assert {k: v for k, v in rec.features.items() if not k.startswith("image_")} == {
        "camera": "gate-3",
        "zip": "01234",  # not a JSON number: stays text
        "exposure": 0.125,
        "iso": "400",  # categorical in the schema: stays text
        "shelf": "étagère",
    }


def test_multipart_three_files_binary_safe_and_a_list_of_predictions(ex):
    tricky = png(2, 2) + b"\r\n--" + BOUNDARY.encode() + b"X\r\n\r\n\n\r"  # lookalike inside
    jpeg = pillow_image("JPEG", 8, 8)
    images = [tricky, jpeg, gif(3, 1)]
    body = multipart(
        [
            ("site", None, None, b"oslo"),
            ("a", "a.png", "image/png", images[0]),
            ("b", "b.bin", "application/octet-stream", images[1]),
            ("c", "c.gif", None, images[2]),
        ]
    )
    resp = {
        "predictions": [
            {"label": "cat", "scores": [0.6, 0.4]},
            {"label": "dog", "scores": [0.1, 0.9]},
            {"label": "cat", "scores": [0.7, 0.3]},
        ]
    }
    m = model(prediction_path="predictions", prediction="label", scores="scores")
    records, attachments = IMAGE.decode_with_attachments(ex(body, resp, content_type=mp_type()), m)
    assert [r.row_index for r in records] == [0, 1, 2]
    assert [r.prediction for r in records] == ["cat", "dog", "cat"]
    assert records[1].scores == {"cat": 0.1, "dog": 0.9}
    assert all(r.features["site"] == "oslo" for r in records)
    assert [(a.row, a.data, a.media_type) for a in attachments] == [
        (0, images[0], "image/png"),
        (1, images[1], "image/jpeg"),
        (2, images[2], "image/gif"),
    ]


def test_scores_path_per_image(ex):
    body = multipart([("a", "a.png", "image/png", png(1, 1)), ("b", "b.png", None, png(2, 1))])
    resp = {"labels": ["dog", "cat"], "probs": [[0.2, 0.8], [0.6, 0.4]]}
    m = model(prediction_path="labels", scores_path="probs")
    records = IMAGE.decode(ex(body, resp, content_type=mp_type()), m)
    assert [(r.prediction, r.scores) for r in records] == [
        ("dog", {"cat": 0.2, "dog": 0.8}),
        ("cat", {"cat": 0.6, "dog": 0.4}),
    ]


def test_one_image_answered_with_a_list_of_one(ex):
    resp = {"predictions": [{"label": "dog"}]}
    (rec,) = IMAGE.decode(ex(png(1, 1), resp), model(prediction_path="predictions"))
    assert rec.prediction == "dog"


def test_fewer_predictions_than_images(ex):
    body = multipart([(n, f"{n}.png", "image/png", png(1, 1, seed=i)) for i, n in enumerate("abc")])
    resp = {"predictions": ["cat", "dog"]}
    with pytest.raises(CodecError, match=r"response.predictions: 2 predictions for 3 images"):
        IMAGE.decode(ex(body, resp, content_type=mp_type()), model(prediction_path="predictions"))
    with pytest.raises(CodecError, match=r"3 images were sent, expected a list of 3 predictions"):
        IMAGE.decode(ex(body, {"label": "cat"}, content_type=mp_type()), model())


def test_upstream_error_keeps_the_images_without_prediction(ex):
    img = png(2, 2)
    records, (att,) = IMAGE.decode_with_attachments(ex(img, b"model crashed", status=500), model())
    assert records[0].prediction is None and records[0].status == 500
    assert records[0].error == "upstream status 500: model crashed"
    assert att.data == img


def test_quoted_boundary_and_lf_only_line_endings(ex):
    img = png(3, 2)
    body = (
        b'--b\nContent-Disposition: form-data; name="f"; filename="x.png"\n'
        b"Content-Type: image/png\n\n" + img + b"\n--b--\n"
    )
    records, (att,) = IMAGE.decode_with_attachments(
        ex(body, {"label": "cat"}, content_type='multipart/form-data; boundary="b"'), model()
    )
    assert att.data == img and len(records) == 1


GOOD_PART = ("f", "x.png", "image/png", png(1, 1))


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "multipart/form-data",
            multipart([GOOD_PART]),
            "request: content-type multipart/form-data without a boundary parameter",
        ),
        (
            mp_type("other"),
            multipart([GOOD_PART]),
            "request: multipart body has no boundary line '--other'",
        ),
        (
            mp_type(),
            multipart([GOOD_PART])[: -len(BOUNDARY) - 6],
            f"request: multipart body ends without the closing boundary '--{BOUNDARY}--'",
        ),
        (
            mp_type(),
            multipart([("notes", "notes.txt", "text/plain", b"hello")]),
            "request: multipart part 1 (field 'notes'): content-type 'text/plain' is not an image",
        ),
        (
            mp_type(),
            multipart([("f", "x.bin", "application/octet-stream", b"%PDF-1.7 ...")]),
            "request: multipart part 1 (field 'f'): content-type application/octet-stream and "
            "the bytes are not a JPEG, PNG, GIF, WebP, BMP or TIFF image",
        ),
        (
            mp_type(),
            multipart([("f", "x.png", "image/png", b"")]),
            "request: multipart part 1 (field 'f'): empty, expected an image",
        ),
        (
            mp_type(),
            multipart([("a", None, None, b"1"), ("b", None, None, b"2")]),
            "request: multipart/form-data has no file part",
        ),
        (
            mp_type(),
            multipart([("a", None, None, b"1"), ("a", None, None, b"2"), GOOD_PART]),
            "request: multipart part 2 (field 'a'): form field 'a' appears twice",
        ),
        (
            mp_type(),
            f"--{BOUNDARY}\r\nContent-Type: image/png\r\n\r\nxx\r\n--{BOUNDARY}--".encode(),
            "request: multipart part 1: no 'content-disposition: form-data; name=...' header",
        ),
        (
            mp_type(),
            f"--{BOUNDARY}\r\nnot a header\r\n\r\nxx\r\n--{BOUNDARY}--".encode(),
            "request: multipart part 1: header line 'not a header' is not 'Name: value'",
        ),
        (
            "multipart/mixed; boundary=x",
            b"",
            "request: content-type multipart/mixed, expected multipart/form-data",
        ),
        ("image/png", b"", "request: empty, expected an image"),
        (
            "image/jpeg",
            b"<html>not an image</html>",
            "request: content-type image/jpeg but the bytes are not a JPEG, PNG, GIF, WebP, "
            "BMP or TIFF image (they start with b'<html>no')",
        ),
        ("application/json", b'{"x": 1}', "request: content-type 'application/json' is not an"),
    ],
    ids=[
        "no-boundary",
        "boundary-not-in-body",
        "no-closing-boundary",
        "text-file-part",
        "octet-stream-not-image",
        "empty-file-part",
        "no-file-part",
        "repeated-field",
        "no-content-disposition",
        "bad-header-line",
        "multipart-mixed",
        "empty-raw",
        "raw-not-matching-type",
        "json-body",
    ],
)
def test_malformed_requests_say_what_is_wrong(ex, content_type, body, message):
    with pytest.raises(CodecError) as err:
        IMAGE.decode(ex(body, {"label": "cat"}, content_type=content_type), model())
    assert str(err.value).startswith(message), str(err.value)


def test_continuous_form_field_must_be_a_number(ex):
    body = multipart([("t", None, None, b"warm"), GOOD_PART])
    m = model(features=[{"name": "t", "type": "continuous"}])
    with pytest.raises(CodecError, match=r"form field 't' = 'warm' is not a number"):
        IMAGE.decode(ex(body, {"label": "cat"}, content_type=mp_type()), m)


def test_other_image_types_are_taken_as_declared(ex):
    records, (att,) = IMAGE.decode_with_attachments(
        ex(b"\x00\x00\x00\x1cftypavif", {"label": "cat"}, content_type="image/avif"), model()
    )
    assert att.media_type == "image/avif" and records[0].prediction == "cat"


def test_config_and_routing_accept_the_image_protocol():
    with pytest.raises(ValueError, match="protocol 'image' needs a path_prefix"):
        ModelSettings(name="m", upstream="http://127.0.0.1:9", protocol="image")
    settings = Settings(
        models=[
            {
                "name": "cls",
                "upstream": "http://127.0.0.1:9",
                "protocol": "image",
                "path_prefix": "/classify",
                "task": "image_classification",
            }
        ]
    )
    target, version = Router(settings).resolve("POST", "/classify/v1")
    assert (target.model, target.protocol, target.capture, version) == ("cls", "image", True, None)
    passthrough, _ = Router(settings).resolve("GET", "/classify/health")
    assert not passthrough.capture
