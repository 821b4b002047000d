"""S3-compatible object storage through boto3 (the ``s3`` extra).

Bucket and prefix come from the URL (``s3://bucket/prefix``), endpoint and
region from the settings, credentials from the environment (boto3's usual
chain: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, profiles, roles).
Transient failures (throttling, 5xx, connection errors) are retried by botocore in
its "standard" mode: jittered exponential backoff, ``max_attempts`` tries in all.
Presigned GET URLs (``url_for``) are what the dashboard and labeling tool open.
"""

from __future__ import annotations

import hashlib
from typing import Any

from driftscope.errors import MissingExtraError, NotFound, StorageError
from driftscope.storage.base import BlobStore
from driftscope.storage.blob.local import check_key, content_key
from driftscope.types import BlobRef


def _client(
    endpoint_url: str | None,
    region: str | None,
    max_attempts: int,
    connect_timeout_s: float,
    read_timeout_s: float,
) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise MissingExtraError("boto3", "s3") from exc
    config = Config(
        # botocore: "max_attempts" counts retries only, "total_max_attempts" the first try too
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


class S3BlobStore(BlobStore):
    """Blobs as objects under ``s3://bucket/prefix``."""

    scheme = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_attempts: int = 5,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        if not bucket:
            raise StorageError("an s3:// blob URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = _client(endpoint_url, region, max_attempts, connect_timeout_s, read_timeout_s)

    def _key(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _split(self, uri: str) -> str:
        head = f"s3://{self.bucket}/"
        if not uri.startswith(head):
            raise StorageError(f"{uri!r} is not in bucket {self.bucket!r}")
        return uri[len(head) :]

    def _errors(self) -> tuple[type[BaseException], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    def put(self, data: bytes, *, media_type: str, key: str | None = None) -> BlobRef:
        sha = hashlib.sha256(data).hexdigest()
        full = self._key(content_key(sha) if key is None else key)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=full,
                Body=data,
                ContentType=media_type,
                Metadata={"sha256": sha},
            )
        except self._errors() as exc:
            raise StorageError(f"cannot write s3://{self.bucket}/{full}: {exc}") from exc
        return BlobRef(
            uri=f"s3://{self.bucket}/{full}", sha256=sha, media_type=media_type, size=len(data)
        )

    def get(self, uri: str) -> bytes:
        key = self._split(uri)
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = obj["Body"].read()
            return data
        except self._errors() as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise NotFound(f"blob {uri!r} does not exist") from exc
            raise StorageError(f"cannot read {uri!r}: {exc}") from exc

    def url_for(self, uri: str, expires_s: int = 3600) -> str:
        key = self._split(uri)
        try:
            url: str = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
            )
            return url
        except self._errors() as exc:
            raise StorageError(f"cannot presign {uri!r}: {exc}") from exc

    def close(self) -> None:
        self.client.close()
