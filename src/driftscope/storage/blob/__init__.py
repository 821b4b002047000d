"""Blob stores: a local folder (``file://``) and S3-compatible object storage (``s3://``)."""
