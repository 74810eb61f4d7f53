"""S3 gap fills.

1. Bucket policies: moto evaluates a bucket policy's statements without their conditions,
   so the stack's conditional Deny statements (plain HTTP, TLS below 1.2, uploads naming
   another KMS key) deny every request. Here a statement with a `Condition` applies only
   when its conditions hold for what the emulator can know: requests reach it on loopback
   in place of AWS's TLS endpoints, so `aws:SecureTransport` is true and `s3:TlsVersion`
   1.3; a condition on anything else (request headers moto does not pass down) is treated
   as not holding, so the sandbox never denies what AWS would allow. What the policies say
   is still checked where it matters: tests read them back, and the policy pack checks
   them before anything is deployed.

2. The check that a logging target bucket lets S3 deliver logs:

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


_KNOWN = {"aws:securetransport": "true", "s3:tlsversion": "1.3"}


def _holds(operator: str, key: str, expected: Any) -> bool:
    """Whether one condition holds for a request to the emulator (see the module doc)."""
    actual = _KNOWN.get(key.lower())
    if actual is None:
        return False
    values = [str(v).lower() for v in _as_list(expected)]
    base = operator.removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
    base = base.removesuffix("IfExists")
    if base in ("Bool", "StringEquals", "StringEqualsIgnoreCase"):
        return actual in values
    if base in ("StringNotEquals", "StringNotEqualsIgnoreCase"):
        return actual not in values
    numeric = {
        "NumericLessThan": float.__lt__,
        "NumericLessThanEquals": float.__le__,
        "NumericGreaterThan": float.__gt__,
        "NumericGreaterThanEquals": float.__ge__,
        "NumericEquals": float.__eq__,
        "NumericNotEquals": float.__ne__,
    }
    if base in numeric:
        return any(numeric[base](float(actual), float(v)) for v in values)
    return False


def applicable(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy without the statements whose conditions do not hold in the emulator."""
    kept = []
    for stmt in _as_list(policy.get("Statement")):
        condition = stmt.get("Condition") if isinstance(stmt, dict) else None
        if not condition:
            kept.append(stmt)
            continue
        if all(
            _holds(operator, key, value)
            for operator, pairs in condition.items()
            for key, value in pairs.items()
        ):
            kept.append({k: v for k, v in stmt.items() if k != "Condition"})
    return {**policy, "Statement": kept}


def install() -> list[str]:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        raw = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
        policy = applicable(json.loads(raw))
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    setattr(FakeBucket, "get_permission", get_permission)  # noqa: B010

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
    return [
        "s3.PutBucketLogging (policy-based log delivery)",
        "s3 bucket policy conditions (loopback counts as TLS)",
    ]
