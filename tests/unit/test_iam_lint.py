"""Every IAM document the stack writes, linted by parliament against AWS's Service
Authorization Reference: unknown actions, condition keys an action does not support,
malformed ARNs and resources an action cannot be granted on all fail here, where AWS
itself would accept the document and silently grant nothing (or deny everything)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import parliament
import pytest

from tests.unit.test_boundary import boundary, role_documents
from tests.unit.test_permissions import ACCOUNT, REGION

# What parliament reports on these documents that is not a defect, each with its reason.
# A finding not accepted here fails the test.


def _mismatch(label: str, finding: Any) -> bool:
    # `s3:*` and `iam:*` on the stack's ARNs in the boundary: their account-level actions
    # are simply not allowed, which is the point of a ceiling. Elsewhere, actions AWS
    # authorises on two resources (kms:CreateAlias on the alias and the key) are split
    # over two statements, and `sagemaker:*/<prefix>-*` patterns span resource types:
    # parliament matches one statement and one type at a time. What stays a defect: an
    # action that can only be granted on "*" given anything else.
    return label == "boundary" or all(i["required_format"] != "*" for i in finding.detail)


def _star(label: str, finding: Any) -> bool:
    # `ec2:Describe*` (a few Describe calls accept resources), and the boundary's
    # whole-service ceiling: both on "*" by design.
    return label == "boundary" or all(a.startswith("ec2:Describe") for a in finding.detail)


def _invalid_arn(_label: str, finding: Any) -> bool:
    # AWS-managed prefix lists are owned by the account "aws".
    return f":{REGION}:aws:prefix-list/" in finding.location.get("string", "")


def _type_usable(_label: str, finding: Any) -> bool:
    # iam:PermissionsBoundary compared with String operators, as in AWS's own example of
    # delegated role management.
    return "StringEquals" in str(finding.detail) or "StringNotEquals" in str(finding.detail)


def _bucket_policy_writes(label: str, _finding: Any) -> bool:
    # The deploy role writes the stack buckets' policies by design; the boundary caps
    # anything it could grant itself to the stack's buckets.
    return label.startswith("deploy-foundation")


ACCEPTED: dict[str, Callable[[str, Any], bool]] = {
    "RESOURCE_MISMATCH": _mismatch,
    "RESOURCE_STAR": _star,
    "INVALID_ARN": _invalid_arn,
    "MISMATCHED_TYPE_BUT_USABLE": _type_usable,
    "RESOURCE_POLICY_PRIVILEGE_ESCALATION": _bucket_policy_writes,
}


def _accepted(label: str, finding: Any) -> bool:
    accept = ACCEPTED.get(finding.issue)
    return accept is not None and accept(label, finding)


def documents() -> dict[str, dict[str, Any]]:
    return {**role_documents(), "boundary": boundary()}


@pytest.mark.parametrize("label", sorted(documents()))
def test_document_passes_parliament(label: str) -> None:
    policy = parliament.analyze_policy_string(
        json.dumps(documents()[label]), include_community_auditors=False
    )
    defects = [
        (finding.issue, finding.detail)
        for finding in policy.findings
        if not _accepted(label, finding)
    ]
    assert defects == [], label


def test_the_lint_catches_what_it_is_here_for() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
    bad = {
        # A typo, and an action that can only be granted on "*" given a topic ARN.
        "Typo": {"Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::bucket/*"},
        "StarOnly": {"Action": "sns:Unsubscribe", "Resource": topic},
    }
    for sid, statement in bad.items():
        doc = {"Version": "2012-10-17", "Statement": [{"Sid": sid, "Effect": "Allow", **statement}]}
        policy = parliament.analyze_policy_string(json.dumps(doc), include_community_auditors=False)
        assert [f for f in policy.findings if not _accepted("x", f)], sid
