"""Deduplication records for retraining requests, kept in the stack's models bucket.

    retraining/requests/<key>.json   a request was queued (or is being queued) under <key>
    retraining/consumed/<key>.json   a request with <key> was retrained successfully

Why S3 and not SQS: a standard queue has no deduplication, and a queued message cannot be
looked up by key (receiving it would hide it from the consumer). S3 conditional writes
(`If-None-Match: *`) make the claim atomic: of two monitoring runs racing on the same key,
exactly one creates the record and sends; the other sees 412 and stops. The bucket is
versioned and KMS-encrypted, so the records are kept and audited like the models.

Claim, send, confirm: a run that dies between claiming and sending leaves a "claimed"
record; after `STALE_CLAIM` a later run takes it over (conditionally on its ETag, so only
one does) and sends. A failed send releases the claim so the next run retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from botocore.exceptions import ClientError

from ml.monitor.window import iso

REQUESTS_PREFIX: Final = "retraining/requests/"
CONSUMED_PREFIX: Final = "retraining/consumed/"
STALE_CLAIM: Final = timedelta(minutes=15)
_EXISTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})

Status = Literal["claimed", "sent"]


@dataclass(frozen=True)
class Record:
    key: str
    status: Status
    at: datetime
    etag: str
    message_id: str | None = None


class Ledger:
    """The dedup records of one stack (its models bucket, its data key)."""

    def __init__(self, s3: Any, bucket: str, kms_key_arn: str | None = None) -> None:
        self._s3 = s3
        self.bucket = bucket
        self._kms_key_arn = kms_key_arn

    def request_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{REQUESTS_PREFIX}{key}.json"

    # ---- requests ------------------------------------------------------------------------

    def claim(self, key: str, body: dict[str, Any], now: datetime) -> Record | None:
        """Create the request record; None when another run already holds the key (the
        caller reads it with `get`)."""
        document = {"status": "claimed", "at": iso(now), "request": body}
        etag = self._put(f"{REQUESTS_PREFIX}{key}.json", document, if_none_match=True)
        return None if etag is None else Record(key, "claimed", now, etag)

    def take_over(self, stale: Record, body: dict[str, Any], now: datetime) -> Record | None:
        """Re-claim a stale claim; None when someone else changed it first."""
        document = {"status": "claimed", "at": iso(now), "request": body}
        etag = self._put(f"{REQUESTS_PREFIX}{stale.key}.json", document, if_match=stale.etag)
        return None if etag is None else Record(stale.key, "claimed", now, etag)

    def confirm(self, claim: Record, body: dict[str, Any], message_id: str, now: datetime) -> None:
        document = {"status": "sent", "at": iso(now), "message_id": message_id, "request": body}
        self._put(f"{REQUESTS_PREFIX}{claim.key}.json", document)

    def release(self, claim: Record) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=f"{REQUESTS_PREFIX}{claim.key}.json")

    def get(self, key: str) -> Record | None:
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=f"{REQUESTS_PREFIX}{key}.json")
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        document = json.loads(answer["Body"].read())
        return Record(
            key=key,
            status=document.get("status", "sent"),
            at=datetime.fromisoformat(document["at"]),
            etag=answer["ETag"],
            message_id=document.get("message_id"),
        )

    @staticmethod
    def is_stale(record: Record, now: datetime) -> bool:
        return record.status == "claimed" and now - record.at > STALE_CLAIM

    # ---- consumption ---------------------------------------------------------------------

    def consumed(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=f"{CONSUMED_PREFIX}{key}.json")
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        return True

    def mark_consumed(self, key: str, body: dict[str, Any], now: datetime | None = None) -> None:
        moment = now or datetime.now(UTC)
        self._put(f"{CONSUMED_PREFIX}{key}.json", {"at": iso(moment), "request": body})

    # ---- S3 ------------------------------------------------------------------------------

    def _put(
        self,
        key: str,
        document: dict[str, Any],
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
    ) -> str | None:
        """PUT the JSON document; the new ETag, or None when the condition failed."""
        extra: dict[str, Any] = {}
        if self._kms_key_arn:
            # The bucket policy rejects any other encryption request; say ours explicitly.
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self._kms_key_arn)
        if if_none_match:
            extra["IfNoneMatch"] = "*"
        if if_match is not None:
            extra["IfMatch"] = if_match
        try:
            answer = self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(document, sort_keys=True).encode("utf-8"),
                ContentType="application/json",
                **extra,
            )
        except ClientError as exc:
            code = _code(exc)
            # With If-Match, a record deleted meanwhile also means "someone else acted".
            if (if_none_match or if_match) and (
                code in _EXISTS or (if_match is not None and code in _MISSING)
            ):
                return None
            raise
        return str(answer.get("ETag", ""))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
