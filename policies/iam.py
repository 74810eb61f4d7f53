"""IAM policies: least privilege, no admin shortcuts, bounded role management, scoped CI
trust, no long-lived keys.

Which permission documents apply to a role is a stack-level question (a RolePolicy names
its role; a RolePolicyAttachment names a role and a customer-managed Policy):
:func:`documents_by_role` answers it once, by value or, during preview, by property
dependency, as the S3 policies link companions to buckets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._documents import (
    action_matches,
    actions,
    condition_keys,
    effect_is,
    granted_actions,
    is_full_wildcard,
    is_service_wildcard,
    statements,
)
from ._framework import (
    Finding,
    MlopsResourcePolicy,
    MlopsStackPolicy,
    Node,
    StackGraph,
    Subject,
    identifiers,
    known_string,
    references,
    schema,
)
from ._values import UNKNOWN, Tri, get, items, strings

POLICY_TYPE: Final = "aws:iam/policy:Policy"
ROLE_POLICY_TYPE: Final = "aws:iam/rolePolicy:RolePolicy"
POLICY_DOCUMENT_TYPES: Final = (
    POLICY_TYPE,
    ROLE_POLICY_TYPE,
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
# Resources that attach customer-managed policies to roles: (role property, ARN property).
ROLE_ATTACHMENTS: Final[dict[str, tuple[str, str]]] = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "policyArn"),
    "aws:iam/policyAttachment:PolicyAttachment": ("roles", "policyArn"),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": (
        "roleName",
        "policyArns",
    ),
}
# Actions that create a role or change what a role (the caller's own included) may do.
ROLE_MANAGEMENT_ACTIONS: Final = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)
# Their iam:PermissionsBoundary condition key is the boundary of the role created or
# changed, so an Allow of them must pin it.
BOUNDED_ACTIONS: Final = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutRolePermissionsBoundary",
)
BOUNDARY_REMOVAL_ACTION: Final = "iam:DeleteRolePermissionsBoundary"
BOUNDARY_CONDITION_KEY: Final = "iam:PermissionsBoundary"
GITHUB_OIDC_HOST: Final = "token.actions.githubusercontent.com"
# repo:<owner>/<name>[:<qualifier>] with a concrete owner and repository name; the
# qualifier (ref, environment, pull_request) may use wildcards.
_SPECIFIC_REPO_SUB: Final = re.compile(r"^repo:(?P<repo>[^/:*?]+/[^/:*?]+)(?::.+)?$")


def _kind(type_token: str) -> str:
    return "IAM " + type_token.rsplit(":", 1)[-1]


def _label(node: Subject | Node) -> str:
    return f"{_kind(node.type)} '{node.name}'"


def _documents(
    subject: Subject | Node, skip: frozenset[str] = frozenset()
) -> list[tuple[str, Any]]:
    """(where, document) pairs: the policy itself, or each inline policy of a role.

    ``skip`` names a role's inline policies to leave out: in stack outputs the provider
    reads back every inline policy of the role, including those a RolePolicy manages (and
    which are checked on that RolePolicy).
    """
    if subject.type == ROLE_TYPE:
        found = []
        for index, inline in enumerate(items(get(subject.props, "inlinePolicies"))):
            name = get(inline, "name")
            if isinstance(name, str) and name in skip:
                continue
            where = f"inline policy '{name}'" if isinstance(name, str) else f"inline policy {index}"
            found.append((where, get(inline, "policy")))
        return found
    return [("", get(subject.props, "policy"))]


def _allow_statements(
    subject: Subject | Node, skip: frozenset[str] = frozenset()
) -> Iterator[tuple[str, int, Any]]:
    for where, document in _documents(subject, skip):
        for index, statement in enumerate(statements(document)):
            if statement is not UNKNOWN and effect_is(statement, "Allow") is Tri.YES:
                yield where, index, statement


def _where(subject: Subject | Node, where: str, index: int) -> str:
    prefix = _label(subject)
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


def _service_wildcards(node: Node, skip: frozenset[str]) -> Iterator[str]:
    for where, index, statement in _allow_statements(node, skip):
        names, _ = actions(statement)
        wide = sorted({name for name in names if is_service_wildcard(name)})
        if wide:
            yield (
                f"{_where(node, where, index)} allows {', '.join(wide)} (every action of "
                "the service). List the specific actions, e.g. s3:GetObject, s3:PutObject."
            )


def _check_service_wildcard(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    """Every policy document, except permissions boundaries: a boundary grants nothing, it
    caps what the roles' own policies grant, so whole-service actions are what it lists."""
    exempt = boundary_policies(graph)
    managed_inline = inline_policies_managed_elsewhere(graph)
    for node in graph.of_type(*POLICY_DOCUMENT_TYPES, ROLE_TYPE):
        if node.urn in exempt:
            continue
        for message in _service_wildcards(node, managed_inline.get(node.urn, frozenset())):
            yield Finding(node.urn, message)


# --- which documents apply to a role ----------------------------------------------------


def role_ids(node: Node) -> set[str]:
    """What a RolePolicy's or an attachment's role property may hold: the name (= id)."""
    return identifiers(node, "name", "id")


def policy_ids(node: Node) -> set[str]:
    """What a policy ARN property may hold for a customer-managed Policy: its arn (= id)."""
    return identifiers(node, "arn", "id")


def attached_policies(node: Node, policies: Sequence[Node]) -> list[Node]:
    """The stack's Policies an attachment (or a role's managed_policy_arns) attaches.

    A node that names no ARN at all (a role without managed_policy_arns) attaches nothing,
    whatever else it depends on.
    """
    prop = ATTACHMENT_PROPERTIES[node.type]
    known, unsure = strings(get(node.props, prop))
    if not known and not unsure and not node.property_dependencies.get(prop):
        return []
    return references(node, prop, policies, policy_ids)


def role_policies_by_role(graph: StackGraph) -> dict[str, list[Node]]:
    """Role URN -> the RolePolicy resources (inline policies) that name it."""
    roles = graph.of_type(ROLE_TYPE)
    found: dict[str, list[Node]] = {role.urn: [] for role in roles}
    for role_policy in graph.of_type(ROLE_POLICY_TYPE):
        for role in references(role_policy, "role", roles, role_ids):
            found[role.urn].append(role_policy)
    return found


def inline_policies_managed_elsewhere(
    graph: StackGraph, by_role: Mapping[str, list[Node]] | None = None
) -> dict[str, frozenset[str]]:
    """Role URN -> names of its inline policies that a RolePolicy of the stack manages
    (from `by_role`, the result of :func:`role_policies_by_role`, when the caller has it)."""
    return {
        urn: frozenset(
            name for rp in role_policies if (name := known_string(get(rp.props, "name")))
        )
        for urn, role_policies in (by_role or role_policies_by_role(graph)).items()
    }


@dataclass(frozen=True)
class RoleDocument:
    """A permission document that applies to a role, and where it comes from."""

    where: str  # e.g. "IAM Policy 'deploy' (attached by IAM RolePolicyAttachment 'x')"
    document: Any


def documents_by_role(graph: StackGraph) -> dict[str, list[RoleDocument]]:
    """Role URN -> every permission document of the stack that applies to the role.

    RolePolicy resources naming the role; the stack's customer-managed Policies attached
    to it by RolePolicyAttachment, PolicyAttachment, RolePolicyAttachmentsExclusive or its
    managed_policy_arns; and its own inline_policies (less the read-backs of RolePolicies).
    Links are by value or by property dependency (:func:`references`). A managed policy
    outside the stack (AWS-managed or pre-existing) has no document here.
    """
    roles = graph.of_type(ROLE_TYPE)
    policies = graph.of_type(POLICY_TYPE)
    found: dict[str, list[RoleDocument]] = {role.urn: [] for role in roles}
    attached: dict[str, dict[str, str]] = {role.urn: {} for role in roles}  # policy -> by
    by_role = role_policies_by_role(graph)
    for urn, role_policies in by_role.items():
        for role_policy in role_policies:
            found[urn].append(RoleDocument(_label(role_policy), get(role_policy.props, "policy")))
    for type_, (role_prop, _) in ROLE_ATTACHMENTS.items():
        for attachment in graph.of_type(type_):
            linked = attached_policies(attachment, policies)
            if not linked:
                continue
            for role in references(attachment, role_prop, roles, role_ids):
                for policy in linked:
                    attached[role.urn].setdefault(policy.urn, f"attached by {_label(attachment)}")
    for role in roles:
        for policy in attached_policies(role, policies):
            attached[role.urn].setdefault(policy.urn, "in its managed_policy_arns")
    by_urn = {policy.urn: policy for policy in policies}
    managed_inline = inline_policies_managed_elsewhere(graph, by_role)
    for role in roles:
        for urn, how in attached[role.urn].items():
            policy = by_urn[urn]
            found[role.urn].append(
                RoleDocument(f"{_label(policy)} ({how})", get(policy.props, "policy"))
            )
        for where, document in _documents(role, managed_inline[role.urn]):
            found[role.urn].append(RoleDocument(where, document))
    return found


def boundary_policies(graph: StackGraph) -> set[str]:
    """URNs of the stack's Policies that serve only as a permissions boundary.

    Some role names the policy as its permissions_boundary (by property dependency or by
    ARN, never guessed from depends_on: this link exempts the policy from checks), and
    nothing attaches it as a permission policy.
    """
    policies = graph.of_type(POLICY_TYPE)
    found: set[str] = set()
    for role in graph.of_type(ROLE_TYPE):
        named = references(role, "permissionsBoundary", policies, policy_ids, fallback=False)
        found.update(policy.urn for policy in named)
    for node in graph.of_type(*ATTACHMENT_PROPERTIES):
        found.difference_update(policy.urn for policy in attached_policies(node, policies))
    return found


# --- bounded role management ------------------------------------------------------------


@dataclass(frozen=True)
class _Grant:
    where: str  # "<document> statement <n> ('<sid>')"
    statement: Any
    actions: list[str]  # the role-management actions it allows


def _statement_label(where: str, index: int, statement: Any) -> str:
    sid = get(statement, "Sid")
    return f"{where} statement {index}" + (f" ('{sid}')" if isinstance(sid, str) and sid else "")


def _role_management_grants(documents: Sequence[RoleDocument]) -> list[_Grant]:
    grants: list[_Grant] = []
    for document in documents:
        for index, statement in enumerate(statements(document.document)):
            if statement is UNKNOWN:
                continue
            allowed = granted_actions(statement, ROLE_MANAGEMENT_ACTIONS)
            if allowed:
                where = _statement_label(document.where, index, statement)
                grants.append(_Grant(where, statement, allowed))
    return grants


def _has_boundary(role: Node) -> bool:
    """A boundary is set, or will be (unknown in preview, or taken from another resource)."""
    if role.property_dependencies.get("permissionsBoundary"):
        return True
    value = get(role.props, "permissionsBoundary")
    return value is UNKNOWN or known_string(value) is not None


def _through(statement: Any, action: str) -> str:
    """How a statement reaches ``action`` when it does not name it, e.g. " (through 'iam:*')"."""
    if get(statement, "NotAction") is not None:
        return " (through Allow with NotAction)"
    patterns, _ = actions(statement)
    if any(pattern.lower() == action.lower() for pattern in patterns):
        return ""
    wide = [pattern for pattern in patterns if action_matches(pattern, action)]
    return f" (through '{wide[0]}')" if wide else ""


def _role_management_findings(role: Node, documents: Sequence[RoleDocument]) -> Iterator[Finding]:
    grants = _role_management_grants(documents)
    if not grants:
        return
    label = f"IAM role '{role.name}'"
    if not _has_boundary(role):
        allowed = sorted({action for grant in grants for action in grant.actions})
        yield Finding(
            role.urn,
            f"{label} may create or change IAM roles ({', '.join(allowed)}, from "
            f"{grants[0].where}) but has no permissions boundary, so it can grant itself or "
            "any role it creates more than it has. Set permissions_boundary on the "
            "aws.iam.Role to the stack's boundary policy ARN (permissions_boundary="
            "<boundary policy>.arn).",
        )
    for grant in grants:
        bounded = [action for action in grant.actions if action in BOUNDED_ACTIONS]
        keys, unsure = condition_keys(grant.statement)
        if bounded and not unsure and BOUNDARY_CONDITION_KEY.lower() not in keys:
            yield Finding(
                role.urn,
                f"{label}: {grant.where} allows {', '.join(bounded)}"
                f"{_through(grant.statement, bounded[0])} without a condition on "
                f"{BOUNDARY_CONDITION_KEY}, so the role can create or change roles that carry "
                f"no permissions boundary. Add a Condition on {BOUNDARY_CONDITION_KEY} to the "
                "statement: {'StringEquals': {'iam:PermissionsBoundary': '<boundary policy "
                "arn>'}}.",
            )
        if BOUNDARY_REMOVAL_ACTION in grant.actions:
            through = _through(grant.statement, BOUNDARY_REMOVAL_ACTION)
            instead = " (list the actions it needs instead)" if through else ""
            yield Finding(
                role.urn,
                f"{label}: {grant.where} allows {BOUNDARY_REMOVAL_ACTION}{through}, which "
                "removes the permissions boundary from a role, its own included. Remove the "
                f"action from the statement{instead} and deny it in the boundary policy.",
            )


def _check_role_management_bounded(
    graph: StackGraph, _config: Mapping[str, Any]
) -> Iterator[Finding]:
    documents = documents_by_role(graph)
    for role in graph.of_type(ROLE_TYPE):
        yield from _role_management_findings(role, documents[role.urn])


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
    MlopsStackPolicy(
        name="iam-policy-no-service-wildcard",
        description=(
            "Checks that no IAM policy allows every action of a service (e.g. s3:*, "
            "sagemaker:*); a policy used only as a role's permissions boundary is exempt."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=(*POLICY_DOCUMENT_TYPES, ROLE_TYPE, *ATTACHMENT_PROPERTIES),
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
    MlopsStackPolicy(
        name="iam-role-management-bounded",
        description=(
            "Checks that every role allowed to create or change IAM roles carries a "
            "permissions boundary and may only create or change roles that carry one."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(ROLE_TYPE, ROLE_POLICY_TYPE, POLICY_TYPE, *ROLE_ATTACHMENTS),
        check=_check_role_management_bounded,
        remediation=(
            "Set permissions_boundary on the role; add a Condition on iam:PermissionsBoundary "
            "to every statement allowing iam:CreateRole, iam:PutRolePolicy, "
            "iam:AttachRolePolicy or iam:PutRolePermissionsBoundary; do not allow "
            "iam:DeleteRolePermissionsBoundary."
        ),
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
