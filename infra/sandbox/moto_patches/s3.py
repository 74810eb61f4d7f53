"""S3 gap fill: moto's check that a logging target bucket lets S3 deliver logs.

moto 5.2 reads the target bucket's policy assuming every statement's `Principal` is an
object and `Resource` a single string. Our log bucket's policy also has TLS-only Deny
statements with `Principal: "*"` (an AttributeError, answered as HTTP 500) and grants
log delivery per source prefix (`arn:aws:s3:::<logs>/<prefix>*`, possibly in a list),
which moto does not match. This replacement reads the policy the way AWS does: the
`logging.s3.amazonaws.com` service principal allowed `s3:PutObject` on the target prefix.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

LOGGING_SERVICE = "logging.s3.amazonaws.com"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def grants_log_delivery(policy: dict[str, Any], bucket_arn: str, prefix: str) -> bool:
    """Whether a bucket policy lets S3 log delivery write objects under `prefix`."""
    target = f"{bucket_arn}/{prefix}"
    for stmt in _as_list(policy.get("Statement")):
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
            continue
        principal = stmt.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if LOGGING_SERVICE not in services:
            continue
        actions = _as_list(stmt.get("Action"))
        if not any(fnmatch.fnmatchcase("s3:PutObject", a) for a in actions):
            continue
        if any(fnmatch.fnmatchcase(target + "x", r) for r in _as_list(stmt.get("Resource"))):
            return True
    return False


def install() -> list[str]:
    from moto.s3.models import FakeBucket

    def _log_permissions_enabled_policy(target_bucket: Any, target_prefix: str | None) -> bool:
        raw = target_bucket.policy
        if not raw:
            return False
        policy = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
        return grants_log_delivery(policy, arn, target_prefix or "")

    setattr(  # noqa: B010 (a class attribute replaced on purpose)
        FakeBucket, "_log_permissions_enabled_policy", staticmethod(_log_permissions_enabled_policy)
    )
    return ["s3.PutBucketLogging (policy-based log delivery)"]
