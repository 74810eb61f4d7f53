"""KMS policies: rotation on, and key policies that do not hand the key to everyone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._documents import actions, effect_is, grants_everyone, principal_is_everyone, statements
from ._framework import MlopsResourcePolicy, Subject
from ._values import UNKNOWN, Tri, get, truth

KEY_TYPE: Final = "aws:kms/key:Key"
KEY_POLICY_TYPE: Final = "aws:kms/keyPolicy:KeyPolicy"


def _rotation_applies(props: dict[str, Any]) -> bool:
    """AWS rotates only symmetric encryption keys; asymmetric and HMAC keys cannot rotate."""
    spec = get(props, "customerMasterKeySpec")
    usage = get(props, "keyUsage")
    if isinstance(spec, str) and spec != "SYMMETRIC_DEFAULT":
        return False
    return not (isinstance(usage, str) and usage != "ENCRYPT_DECRYPT")


def _check_rotation(subject: Subject) -> Iterator[str]:
    if not _rotation_applies(subject.props):
        return
    if truth(get(subject.props, "enableKeyRotation")) is Tri.NO:
        yield (
            f"KMS key '{subject.name}' does not rotate its key material. "
            "Set enable_key_rotation=True (optionally rotation_period_in_days)."
        )


def _is_admin_wildcard(statement: Any) -> bool:
    """Allow of kms:* (or *) to a wildcard principal; conditions do not make this acceptable."""
    names, _ = actions(statement)
    return (
        effect_is(statement, "Allow") is Tri.YES
        and principal_is_everyone(get(statement, "Principal")) is Tri.YES
        and any(name in ("kms:*", "*") for name in names)
    )


def _check_key_policy(subject: Subject) -> Iterator[str]:
    kind = "KMS key" if subject.type == KEY_TYPE else "KMS key policy"
    for index, statement in enumerate(statements(get(subject.props, "policy"))):
        if statement is UNKNOWN:
            continue
        if _is_admin_wildcard(statement):
            yield (
                f"{kind} '{subject.name}' statement {index} grants kms:* to Principal '*'. "
                "Grant kms:* only to the account root or a named admin role, and usage "
                "actions (kms:Decrypt, kms:GenerateDataKey*) to named roles."
            )
        elif grants_everyone(statement) is Tri.YES:
            yield (
                f"{kind} '{subject.name}' statement {index} allows Principal '*' without a "
                "restricting condition. Name the principals or add kms:CallerAccount / "
                "aws:PrincipalOrgID conditions."
            )


POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="kms-key-rotation-enabled",
        description="Checks that every symmetric KMS key has automatic key rotation enabled.",
        level=EnforcementLevel.MANDATORY,
        resource_types=(KEY_TYPE,),
        check=_check_rotation,
        remediation="Set enable_key_rotation=True on the aws.kms.Key.",
    ),
    MlopsResourcePolicy(
        name="kms-key-policy-not-public",
        description=(
            "Checks that no KMS key policy grants kms:* to Principal '*' or allows '*' "
            "without a restricting condition."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(KEY_TYPE, KEY_POLICY_TYPE),
        check=_check_key_policy,
        remediation=(
            "Grant key administration to the account root or a named role and key usage to "
            "the named roles that need it."
        ),
    ),
]
