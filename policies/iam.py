"""IAM policies: least privilege, no admin shortcuts, scoped CI trust, no long-lived keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._documents import actions, effect_is, is_full_wildcard, is_service_wildcard, statements
from ._framework import MlopsResourcePolicy, Subject, schema
from ._values import UNKNOWN, Tri, get, items, strings

POLICY_DOCUMENT_TYPES: Final = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
ROLE_TYPE: Final = "aws:iam/role:Role"
ACCESS_KEY_TYPE: Final = "aws:iam/accessKey:AccessKey"
# Attachment-like resources and the property that holds the managed policy ARN(s).
ATTACHMENT_PROPERTIES: Final[dict[str, str]] = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
    ROLE_TYPE: "managedPolicyArns",
}
GITHUB_OIDC_HOST: Final = "token.actions.githubusercontent.com"
# repo:<owner>/<name>[:<qualifier>] with a concrete owner and repository name; the
# qualifier (ref, environment, pull_request) may use wildcards.
_SPECIFIC_REPO_SUB: Final = re.compile(r"^repo:(?P<repo>[^/:*?]+/[^/:*?]+)(?::.+)?$")


def _kind(type_token: str) -> str:
    return "IAM " + type_token.rsplit(":", 1)[-1]


def _documents(subject: Subject) -> list[tuple[str, Any]]:
    """(where, document) pairs: the policy itself, or each inline policy of a role."""
    if subject.type == ROLE_TYPE:
        found = []
        for index, inline in enumerate(items(get(subject.props, "inlinePolicies"))):
            name = get(inline, "name")
            where = f"inline policy '{name}'" if isinstance(name, str) else f"inline policy {index}"
            found.append((where, get(inline, "policy")))
        return found
    return [("", get(subject.props, "policy"))]


def _allow_statements(subject: Subject) -> Iterator[tuple[str, int, Any]]:
    for where, document in _documents(subject):
        for index, statement in enumerate(statements(document)):
            if statement is not UNKNOWN and effect_is(statement, "Allow") is Tri.YES:
                yield where, index, statement


def _where(subject: Subject, where: str, index: int) -> str:
    prefix = f"{_kind(subject.type)} '{subject.name}'"
    return f"{prefix} {where} statement {index}" if where else f"{prefix} statement {index}"


def _check_wildcard_action(subject: Subject) -> Iterator[str]:
    for where, index, statement in _allow_statements(subject):
        names, _ = actions(statement)
        if any(is_full_wildcard(name) for name in names):
            yield (
                f"{_where(subject, where, index)} allows Action '*' (every action in AWS). "
                "List the specific actions the workload calls."
            )
        if get(statement, "NotAction") is not None:
            yield (
                f"{_where(subject, where, index)} combines Allow with NotAction, which grants "
                "every action not listed. Use Allow with an explicit Action list."
            )


def _check_service_wildcard(subject: Subject) -> Iterator[str]:
    for where, index, statement in _allow_statements(subject):
        names, _ = actions(statement)
        wide = sorted({name for name in names if is_service_wildcard(name)})
        if wide:
            yield (
                f"{_where(subject, where, index)} allows {', '.join(wide)} (every action of "
                "the service). List the specific actions, e.g. s3:GetObject, s3:PutObject."
            )


def _is_admin_policy_arn(arn: str) -> bool:
    name = arn.rsplit("/", 1)[-1]
    return (
        name.startswith("AdministratorAccess")
        or name == "PowerUserAccess"
        or name.endswith("FullAccess")
    )


def _check_admin_managed_policy(subject: Subject) -> Iterator[str]:
    prop = ATTACHMENT_PROPERTIES[subject.type]
    arns, _ = strings(get(subject.props, prop))
    for arn in arns:
        if _is_admin_policy_arn(arn):
            yield (
                f"{_kind(subject.type)} '{subject.name}' attaches the managed policy {arn}, "
                "which grants far more than an ML workload needs. Attach a customer-managed "
                "policy that lists the required actions and resources."
            )


def _is_github_trust(statement: Any) -> bool:
    federated, _ = strings(get(statement, "Principal", "Federated"))
    if any(GITHUB_OIDC_HOST in value for value in federated):
        return True
    condition = get(statement, "Condition")
    if not isinstance(condition, dict):
        return False
    return any(
        isinstance(block, dict) and any(key.startswith(GITHUB_OIDC_HOST + ":") for key in block)
        for block in condition.values()
    )


def _claim_values(statement: Any, claim: str) -> tuple[list[str], bool]:
    """Values the trust condition accepts for ``<host>:<claim>`` and whether any is unknown."""
    condition = get(statement, "Condition")
    if condition is UNKNOWN:
        return [], True
    if not isinstance(condition, dict):
        return [], False
    values: list[str] = []
    unsure = False
    for operator, block in condition.items():
        if "String" not in operator or operator.startswith("StringNot"):
            continue
        if block is UNKNOWN:
            unsure = True
            continue
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            if key.lower() == f"{GITHUB_OIDC_HOST}:{claim}":
                known, unknown = strings(value)
                values.extend(known)
                unsure = unsure or unknown
    return values, unsure


def _check_github_trust(subject: Subject) -> Iterator[str]:
    allowed = {repo.lower() for repo in subject.config.get("allowedRepositories", [])}
    role = f"IAM role '{subject.name}'"
    for index, statement in enumerate(statements(get(subject.props, "assumeRolePolicy"))):
        if statement is UNKNOWN or effect_is(statement, "Allow") is not Tri.YES:
            continue
        if not _is_github_trust(statement):
            continue
        subs, unsure = _claim_values(statement, "sub")
        if not subs and not unsure:
            yield (
                f"{role} trust statement {index} lets GitHub Actions assume it without a "
                f"condition on {GITHUB_OIDC_HOST}:sub, so any repository on GitHub can. Add "
                "StringEquals/StringLike {'token.actions.githubusercontent.com:sub': "
                "'repo:<owner>/<repo>:ref:refs/heads/main'}."
            )
        for sub in subs:
            match = _SPECIFIC_REPO_SUB.match(sub)
            if match is None:
                yield (
                    f"{role} trust statement {index} accepts sub '{sub}', which does not pin a "
                    "specific repository. Use 'repo:<owner>/<repo>:<ref or environment>'."
                )
            elif allowed and match.group("repo").lower() not in allowed:
                yield (
                    f"{role} trust statement {index} trusts repository '{match.group('repo')}', "
                    "which is not in allowedRepositories. Trust one of: "
                    + ", ".join(sorted(allowed))
                    + "."
                )
        auds, aud_unsure = _claim_values(statement, "aud")
        if not aud_unsure and "sts.amazonaws.com" not in auds:
            yield (
                f"{role} trust statement {index} does not require "
                f"{GITHUB_OIDC_HOST}:aud = 'sts.amazonaws.com'. Add it to the StringEquals "
                "condition."
            )


def _check_access_key(subject: Subject) -> Iterator[str]:
    yield (
        f"IAM access key '{subject.name}' is a long-lived credential for an IAM user. Remove "
        "it and let workloads assume roles (GitHub OIDC for CI, instance/execution roles for "
        "compute)."
    )


POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="iam-policy-no-wildcard-action",
        description=(
            "Checks that no IAM policy (managed, inline or role inline) allows Action '*' or "
            "uses Allow with NotAction."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(*POLICY_DOCUMENT_TYPES, ROLE_TYPE),
        check=_check_wildcard_action,
        remediation="Replace '*' with the specific actions the workload needs.",
    ),
    MlopsResourcePolicy(
        name="iam-policy-no-service-wildcard",
        description=(
            "Checks that no IAM policy allows every action of a service (e.g. s3:*, sagemaker:*)."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=(*POLICY_DOCUMENT_TYPES, ROLE_TYPE),
        check=_check_service_wildcard,
        remediation="List the specific actions instead of '<service>:*'.",
    ),
    MlopsResourcePolicy(
        name="iam-no-admin-managed-policy",
        description=(
            "Checks that no role, user or group attaches AdministratorAccess, PowerUserAccess "
            "or a '*FullAccess' managed policy."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=tuple(ATTACHMENT_PROPERTIES),
        check=_check_admin_managed_policy,
        remediation="Attach a customer-managed least-privilege policy instead.",
    ),
    MlopsResourcePolicy(
        name="iam-github-oidc-trust-scoped",
        description=(
            "Checks that every role trusting GitHub's OIDC provider pins the sub claim to "
            "specific repositories (no 'repo:*' wildcards) and the aud claim to sts.amazonaws.com."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(ROLE_TYPE,),
        check=_check_github_trust,
        remediation=(
            "Add Condition StringEquals {'token.actions.githubusercontent.com:aud': "
            "'sts.amazonaws.com'} and StringLike {'token.actions.githubusercontent.com:sub': "
            "'repo:<owner>/<repo>:ref:refs/heads/main'}."
        ),
        config_schema=schema(
            {
                "allowedRepositories": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[^/*]+/[^/*]+$"},
                    "description": (
                        "If non-empty, the only '<owner>/<repo>' values a GitHub OIDC trust "
                        "may name."
                    ),
                    "default": [],
                }
            }
        ),
    ),
    MlopsResourcePolicy(
        name="iam-no-user-access-keys",
        description="Checks that the stack creates no long-lived IAM user access keys.",
        level=EnforcementLevel.MANDATORY,
        resource_types=(ACCESS_KEY_TYPE,),
        check=_check_access_key,
        remediation="Delete the aws.iam.AccessKey and use role assumption instead.",
    ),
]
