"""IAM policies."""

from __future__ import annotations

import json

import pytest

from policies.offline import UNKNOWN, analyze, resource

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ACCOUNT = "111122223333"
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/stack-role-boundary"
GITHUB = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
TRUST_SERVICE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action, resource_="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource_}


# --- iam-policy-no-wildcard-action ----------------------------------------------------


def test_wildcard_action_fails_on_managed_policy(assert_violation):
    policy = resource("aws:iam/policy:Policy", "admin", {"policy": json.dumps(_doc(_allow("*")))})
    assert_violation(
        "iam-policy-no-wildcard-action",
        [policy],
        "IAM Policy 'admin' statement 0 allows Action '*'",
    )


def test_wildcard_action_fails_on_role_inline_policy(assert_violation):
    role = resource(
        ROLE,
        "train",
        {
            "assumeRolePolicy": TRUST_SERVICE,
            "inlinePolicies": [
                {"name": "everything", "policy": json.dumps(_doc(_allow(["s3:GetObject", "*"])))}
            ],
        },
    )
    assert_violation(
        "iam-policy-no-wildcard-action", [role], "inline policy 'everything' statement 0"
    )


def test_wildcard_action_fails_on_role_policy_not_action(assert_violation):
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    policy = resource(
        "aws:iam/rolePolicy:RolePolicy",
        "train-inline",
        {"role": "train", "policy": _doc(statement)},
    )
    assert_violation("iam-policy-no-wildcard-action", [policy], "combines Allow with NotAction")


def test_wildcard_action_passes_specific_actions_and_deny_star(assert_passes):
    deny = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    policy = resource(
        "aws:iam/userPolicy:UserPolicy",
        "ci",
        {"user": "ci", "policy": _doc(_allow("s3:GetObject"), deny)},
    )
    group = resource("aws:iam/groupPolicy:GroupPolicy", "g", {"group": "g", "policy": UNKNOWN})
    assert_passes("iam-policy-no-wildcard-action", [policy, group])


# --- iam-policy-no-service-wildcard ---------------------------------------------------


def test_service_wildcard_fails(assert_violation):
    policy = resource(
        "aws:iam/policy:Policy", "data", {"policy": _doc(_allow(["s3:*", "sagemaker:*"]))}
    )
    assert_violation("iam-policy-no-service-wildcard", [policy], "allows s3:*, sagemaker:*")


def test_service_wildcard_passes_prefix_wildcards(assert_passes):
    policy = resource(
        "aws:iam/policy:Policy", "data", {"policy": _doc(_allow(["s3:Get*", "s3:PutObject"]))}
    )
    assert_passes("iam-policy-no-service-wildcard", [policy])


def _policy(name, document, *, known_arn=True):
    """A customer-managed policy; in preview (known_arn=False) its ARN is not known yet."""
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    outputs = {"arn": arn, "id": arn} if known_arn else {}
    return resource(POLICY, name, {"name": name, "policy": json.dumps(document)}, outputs=outputs)


def _role(name, boundary=None, *, by_dependency=False, extra=None, dependencies=()):
    """A role; ``boundary`` is a policy resource (linked by ARN or by dependency) or a literal."""
    inputs = {"name": name, "assumeRolePolicy": TRUST_SERVICE, **(extra or {})}
    property_dependencies = {}
    if isinstance(boundary, dict):
        if by_dependency:
            inputs["permissionsBoundary"] = UNKNOWN
            property_dependencies["permissionsBoundary"] = [boundary["urn"]]
        else:
            inputs["permissionsBoundary"] = boundary["outputs"]["arn"]
    elif boundary is not None:
        inputs["permissionsBoundary"] = boundary
    return resource(
        ROLE,
        name,
        inputs,
        property_dependencies=property_dependencies,
        dependencies=list(dependencies),
    )


def _attach(role, policy, *, by_dependency=False, name=None):
    """A RolePolicyAttachment of ``policy`` to ``role``, by value or by dependency only."""
    name = name or f"{role['name']}-{policy['name']}"
    if by_dependency:
        return resource(
            ATTACHMENT,
            name,
            {"role": UNKNOWN, "policyArn": UNKNOWN},
            property_dependencies={"role": [role["urn"]], "policyArn": [policy["urn"]]},
        )
    inputs = {"role": role["inputs"]["name"], "policyArn": policy["outputs"]["arn"]}
    return resource(ATTACHMENT, name, inputs)


BOUNDARY_DOC = _doc(
    _allow("s3:*", "arn:aws:s3:::stack-*"),
    _allow(["iam:*", "sts:GetCallerIdentity"], f"arn:aws:iam::{ACCOUNT}:role/stack-*"),
    {"Effect": "Deny", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*"},
)


def test_service_wildcard_exempts_a_boundary_named_by_arn(assert_passes, assert_violation):
    boundary = _policy("stack-role-boundary", BOUNDARY_DOC)
    data = _policy("data", _doc(_allow("sagemaker:*")))
    role = _role("train", boundary)
    assert_passes("iam-policy-no-service-wildcard", [boundary, role])
    # Only the boundary is exempt: an ordinary policy of the same stack is still reported.
    found = assert_violation(
        "iam-policy-no-service-wildcard", [boundary, data, role], "allows sagemaker:*"
    )
    assert [v.urn for v in found] == [data["urn"]]


def test_service_wildcard_exempts_a_boundary_named_by_id(assert_passes):
    # Some providers (and the mocks) report a policy's id as its name, not its ARN.
    boundary = resource(
        POLICY, "boundary", {"policy": BOUNDARY_DOC}, outputs={"id": "stack-role-boundary"}
    )
    assert_passes(
        "iam-policy-no-service-wildcard", [boundary, _role("train", "stack-role-boundary")]
    )


def test_service_wildcard_exempts_a_boundary_linked_by_dependency_in_preview(assert_passes):
    boundary = _policy("stack-role-boundary", BOUNDARY_DOC, known_arn=False)
    roles = [_role(name, boundary, by_dependency=True) for name in ("train", "deploy")]
    assert_passes("iam-policy-no-service-wildcard", [boundary, *roles])


def test_service_wildcard_still_applies_action_star_to_a_boundary(assert_violation):
    boundary = _policy("stack-role-boundary", _doc(_allow("*")))
    assert_violation(
        "iam-policy-no-wildcard-action",
        [boundary, _role("train", boundary)],
        "IAM Policy 'stack-role-boundary' statement 0 allows Action '*'",
    )


@pytest.mark.parametrize("by_dependency", [False, True], ids=["by-value", "by-dependency"])
def test_service_wildcard_reports_a_boundary_also_attached_to_a_role(
    assert_violation, by_dependency
):
    boundary = _policy("stack-role-boundary", BOUNDARY_DOC, known_arn=not by_dependency)
    bounded = _role("train", boundary, by_dependency=by_dependency)
    other = _role("worker", boundary, by_dependency=by_dependency)
    attachment = _attach(other, boundary, by_dependency=by_dependency)
    found = assert_violation(
        "iam-policy-no-service-wildcard",
        [boundary, bounded, other, attachment],
        "IAM Policy 'stack-role-boundary' statement 0 allows s3:* (every action of the service)",
    )
    assert {v.urn for v in found} == {boundary["urn"]}


def test_service_wildcard_reports_a_boundary_in_managed_policy_arns(assert_violation):
    boundary = _policy("stack-role-boundary", BOUNDARY_DOC)
    bounded = _role("train", boundary)
    managed = _role("worker", extra={"managedPolicyArns": [boundary["outputs"]["arn"]]})
    assert_violation("iam-policy-no-service-wildcard", [boundary, bounded, managed], "allows s3:*")


def test_service_wildcard_reports_a_boundary_attached_to_users(assert_violation):
    boundary = _policy("stack-role-boundary", BOUNDARY_DOC)
    attachment = resource(
        "aws:iam/policyAttachment:PolicyAttachment",
        "everyone",
        {"users": ["analyst"], "policyArn": boundary["outputs"]["arn"]},
    )
    assert_violation(
        "iam-policy-no-service-wildcard",
        [boundary, _role("train", boundary), attachment],
        "allows s3:*",
    )


def test_service_wildcard_does_not_guess_a_boundary_from_depends_on(assert_violation):
    policy = _policy("data", _doc(_allow("s3:*")), known_arn=False)
    # The role depends on the policy (depends_on) and names another boundary: no exemption.
    role = _role("train", BOUNDARY_ARN, dependencies=[policy["urn"]])
    unbounded = _role("worker", dependencies=[policy["urn"]])
    assert_violation("iam-policy-no-service-wildcard", [policy, role, unbounded], "allows s3:*")


def test_service_wildcard_checks_a_role_inline_policy_once(assert_violation):
    # Stack outputs read every inline policy back into the role, RolePolicies' included.
    document = json.dumps(_doc(_allow("s3:*")))
    role = resource(
        ROLE,
        "train",
        {"name": "train", "assumeRolePolicy": TRUST_SERVICE},
        outputs={
            "inlinePolicies": [
                {"name": "data", "policy": document},
                {"name": "own", "policy": json.dumps(_doc(_allow("ecr:*")))},
            ]
        },
    )
    inline = resource(
        ROLE_POLICY, "train-data", {"role": "train", "name": "data", "policy": document}
    )
    found = assert_violation("iam-policy-no-service-wildcard", [role, inline], "allows")
    assert sorted(v.message.split(" allows")[0] for v in found) == [
        "IAM Role 'train' inline policy 'own' statement 0",
        "IAM RolePolicy 'train-data' statement 0",
    ]


def test_service_wildcard_reports_nothing_on_unknown_values():
    resources = [
        resource(type_, f"preview-{index}", {key: UNKNOWN for key in keys})
        for index, (type_, keys) in enumerate(
            [
                (POLICY, ["name", "policy", "arn"]),
                (ROLE_POLICY, ["role", "name", "policy"]),
                (ROLE, ["name", "inlinePolicies", "managedPolicyArns", "permissionsBoundary"]),
                (ATTACHMENT, ["role", "policyArn"]),
            ]
        )
    ]
    report = analyze(resources)
    wanted = {"iam-policy-no-service-wildcard", "iam-role-management-bounded"}
    assert [v for v in report.violations if v.policy in wanted] == []
    assert [s for s in report.skipped if s.policy in wanted] == []


# --- iam-no-admin-managed-policy ------------------------------------------------------


def test_admin_managed_policy_fails_on_attachment(assert_violation):
    attachment = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "train-admin",
        {"role": "train", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    assert_violation(
        "iam-no-admin-managed-policy",
        [attachment],
        "attaches the managed policy arn:aws:iam::aws:policy/AdministratorAccess",
    )


def test_admin_managed_policy_fails_on_full_access_in_role_and_exclusive(assert_violation):
    role = resource(
        ROLE,
        "train",
        {
            "assumeRolePolicy": TRUST_SERVICE,
            "managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"],
        },
    )
    exclusive = resource(
        "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
        "ci-policies",
        {"userName": "ci", "policyArns": ["arn:aws:iam::aws:policy/AmazonS3FullAccess"]},
    )
    found = assert_violation("iam-no-admin-managed-policy", [role, exclusive], "FullAccess")
    assert len(found) == 2


def test_admin_managed_policy_passes_read_only(assert_passes):
    attachment = resource(
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "ci-read",
        {"user": "ci", "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"},
    )
    unknown = resource(
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "g",
        {"group": "g", "policyArn": UNKNOWN},
    )
    assert_passes("iam-no-admin-managed-policy", [attachment, unknown])


# --- iam-role-management-bounded ------------------------------------------------------

BOUNDED = {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}}


def _bounded(action, condition=BOUNDED, **extra):
    return {
        **_allow(action, f"arn:aws:iam::{ACCOUNT}:role/stack-*"),
        "Condition": condition,
        **extra,
    }


def _role_policy(role, document, *, by_dependency=False):
    name = f"{role['name']}-inline"
    if by_dependency:
        return resource(
            ROLE_POLICY,
            name,
            {"role": UNKNOWN, "policy": document if document == UNKNOWN else json.dumps(document)},
            property_dependencies={"role": [role["urn"]]},
        )
    return resource(ROLE_POLICY, name, {"role": role["inputs"]["name"], "policy": document})


def _deploy_stack(document, *, boundary=True, by_dependency=False):
    """A deploy role with ``document`` attached as a customer-managed policy."""
    policy_of_boundary = _policy("stack-role-boundary", BOUNDARY_DOC, known_arn=not by_dependency)
    policy = _policy("deploy", document, known_arn=not by_dependency)
    role = _role("deploy", policy_of_boundary if boundary else None, by_dependency=by_dependency)
    return [policy_of_boundary, policy, role, _attach(role, policy, by_dependency=by_dependency)]


@pytest.mark.parametrize("by_dependency", [False, True], ids=["by-value", "by-dependency"])
def test_role_management_fails_without_boundary_on_attached_policy(assert_violation, by_dependency):
    stack = _deploy_stack(
        _doc(_bounded(["iam:CreateRole", "iam:PutRolePolicy"])),
        boundary=False,
        by_dependency=by_dependency,
    )
    found = assert_violation(
        "iam-role-management-bounded",
        stack,
        "IAM role 'deploy' may create or change IAM roles (iam:CreateRole, iam:PutRolePolicy, "
        "from IAM Policy 'deploy' (attached by IAM RolePolicyAttachment 'deploy-deploy') "
        "statement 0) but has no permissions boundary",
    )
    assert [v.urn for v in found] == [stack[2]["urn"]]
    assert "Set permissions_boundary on the aws.iam.Role" in found[0].message
    assert found[0].level == "mandatory"


@pytest.mark.parametrize("by_dependency", [False, True], ids=["by-value", "by-dependency"])
def test_role_management_fails_without_boundary_on_role_policy(assert_violation, by_dependency):
    role = _role("deploy", "")  # an empty boundary is no boundary
    inline = _role_policy(
        role, _doc(_allow("iam:UpdateAssumeRolePolicy")), by_dependency=by_dependency
    )
    assert_violation(
        "iam-role-management-bounded",
        [role, inline],
        "(iam:UpdateAssumeRolePolicy, from IAM RolePolicy 'deploy-inline' statement 0) but has "
        "no permissions boundary",
    )


@pytest.mark.parametrize(
    "extra",
    [
        {
            "inlinePolicies": [
                {"name": "manage", "policy": json.dumps(_doc(_allow("iam:CreatePolicyVersion")))}
            ]
        },
        {"managedPolicyArns": [f"arn:aws:iam::{ACCOUNT}:policy/deploy"]},
    ],
    ids=["inline-policies", "managed-policy-arns"],
)
def test_role_management_fails_without_boundary_on_the_role_itself(assert_violation, extra):
    policy = _policy("deploy", _doc(_allow("iam:CreatePolicyVersion")))
    role = _role("deploy", extra=extra)
    assert_violation(
        "iam-role-management-bounded",
        [policy, role],
        "may create or change IAM roles (iam:CreatePolicyVersion, from ",
    )


def test_role_management_fails_through_policy_attachment(assert_violation):
    policy = _policy("deploy", _doc(_bounded("iam:SetDefaultPolicyVersion")))
    role = _role("deploy")
    attachment = resource(
        "aws:iam/policyAttachment:PolicyAttachment",
        "deploy-roles",
        {"roles": ["other", "deploy"], "policyArn": policy["outputs"]["arn"]},
    )
    assert_violation(
        "iam-role-management-bounded",
        [policy, role, attachment],
        "(attached by IAM PolicyAttachment 'deploy-roles') statement 0) but has no permissions",
    )


@pytest.mark.parametrize("by_dependency", [False, True], ids=["by-value", "by-dependency"])
def test_role_management_fails_without_boundary_condition(assert_violation, by_dependency):
    stack = _deploy_stack(
        _doc(
            {**_allow(["iam:CreateRole", "iam:AttachRolePolicy", "iam:GetRole"]), "Sid": "Roles"},
            _bounded("iam:PutRolePolicy"),
        ),
        by_dependency=by_dependency,
    )
    found = assert_violation(
        "iam-role-management-bounded",
        stack,
        "IAM role 'deploy': IAM Policy 'deploy' (attached by IAM RolePolicyAttachment "
        "'deploy-deploy') statement 0 ('Roles') allows iam:CreateRole, iam:AttachRolePolicy "
        "without a condition on iam:PermissionsBoundary",
    )
    assert len(found) == 1
    assert "Add a Condition on iam:PermissionsBoundary" in found[0].message


@pytest.mark.parametrize(
    "action, through",
    [
        ("iam:*", " (through 'iam:*')"),
        ("iam:Put*", " (through 'iam:Put*')"),
        ("*", " (through '*')"),
        ("IAM:createrole", ""),
        ("iam:*Role*", " (through 'iam:*Role*')"),
        ("iam:?ttachRolePolicy", " (through 'iam:?ttachRolePolicy')"),
    ],
)
def test_role_management_matches_wildcards_case_insensitively(assert_violation, action, through):
    role = _role("deploy", BOUNDARY_ARN)
    inline = _role_policy(role, _doc(_allow(["s3:GetObject", action])))
    found = assert_violation(
        "iam-role-management-bounded",
        [role, inline],
        f"{through} without a condition on iam:PermissionsBoundary",
    )
    assert found[0].urn == role["urn"]


def test_role_management_treats_allow_not_action_as_a_grant(assert_violation):
    statement = {"Effect": "Allow", "NotAction": ["s3:*", "iam:DeleteRole*"], "Resource": "*"}
    role = _role(
        "deploy",
        BOUNDARY_ARN,
        extra={"inlinePolicies": [{"name": "all", "policy": _doc(statement)}]},
    )
    assert_violation(
        "iam-role-management-bounded",
        [role],
        "inline policy 'all' statement 0 allows iam:CreateRole, iam:PutRolePolicy, "
        "iam:AttachRolePolicy, iam:PutRolePermissionsBoundary (through Allow with NotAction) "
        "without a condition",
    )


@pytest.mark.parametrize("by_dependency", [False, True], ids=["by-value", "by-dependency"])
def test_role_management_fails_on_boundary_removal(assert_violation, by_dependency):
    stack = _deploy_stack(
        _doc(_bounded(["iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"])),
        by_dependency=by_dependency,
    )
    found = assert_violation(
        "iam-role-management-bounded",
        stack,
        "'deploy-deploy') statement 0 allows iam:DeleteRolePermissionsBoundary, which removes "
        "the permissions boundary from a role",
    )
    assert "Remove the action from the statement and deny it" in found[0].message


def test_role_management_reports_boundary_removal_through_a_bounded_wildcard(assert_violation):
    role = _role("deploy", BOUNDARY_ARN)
    inline = _role_policy(role, _doc(_bounded("iam:*")))
    report = analyze([role, inline])
    found = [v.message for v in report.violations if v.policy == "iam-role-management-bounded"]
    assert len(found) == 1, found  # the condition is there; only the removal is reported
    assert_violation(
        "iam-role-management-bounded",
        [role, inline],
        "allows iam:DeleteRolePermissionsBoundary (through 'iam:*'), which removes the "
        "permissions boundary from a role, its own included. Remove the action from the "
        "statement (list the actions it needs instead) and deny it in the boundary policy.",
    )


@pytest.mark.parametrize(
    "condition",
    [
        BOUNDED,
        {"StringLike": {"IAM:permissionsboundary": f"arn:aws:iam::{ACCOUNT}:policy/stack-*"}},
        {
            "ArnEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN},
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
        },
    ],
    ids=["string-equals", "string-like-any-case", "arn-equals"],
)
@pytest.mark.parametrize("by_dependency", [False, True], ids=["by-value", "by-dependency"])
def test_role_management_passes_bounded_roles(assert_passes, condition, by_dependency):
    statements = [
        _bounded(["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"], condition),
        _bounded("iam:PutRolePermissionsBoundary", condition),
        # Changing a trust policy or a managed policy's version needs only the boundary.
        _allow(["iam:UpdateAssumeRolePolicy", "iam:CreatePolicyVersion", "iam:GetRole"]),
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"Bool": {"x": "y"}}},
    ]
    assert_passes(
        "iam-role-management-bounded",
        _deploy_stack(_doc(*statements), by_dependency=by_dependency),
    )


def test_role_management_passes_roles_that_manage_no_roles(assert_passes):
    role = _role("train")  # no boundary, but no role-management grant either
    inline = _role_policy(role, _doc(_allow(["iam:GetRole", "iam:PassRole", "s3:*"])))
    deny = {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    other = _role("worker", extra={"inlinePolicies": [{"name": "deny", "policy": _doc(deny)}]})
    assert_passes("iam-role-management-bounded", [role, inline, other])


def test_role_management_passes_documents_that_apply_to_no_role(assert_passes):
    # A policy attached to nothing, a RolePolicy and an attachment naming a role outside
    # the stack, and a role that only depends on the policy: none of them grants the role.
    policy = _policy("deploy", _doc(_allow("iam:*")))
    role = _role("train", dependencies=[policy["urn"]])
    inline = resource(ROLE_POLICY, "other-inline", {"role": "other", "policy": _doc(_allow("*"))})
    attachment = resource(
        ATTACHMENT,
        "other-deploy",
        {"role": "other", "policyArn": policy["outputs"]["arn"]},
        dependencies=[role["urn"]],
    )
    assert_passes("iam-role-management-bounded", [policy, role, inline, attachment])


def test_role_management_unknowns_in_preview_are_not_violations(assert_passes):
    role = _role("deploy")  # no boundary: only a known grant would be reported
    unknown_document = _role_policy(role, UNKNOWN, by_dependency=True)
    unknown_statement = resource(
        ROLE_POLICY,
        "deploy-statements",
        {"role": "deploy", "policy": {"Version": "2012-10-17", "Statement": [UNKNOWN]}},
    )
    unknown_parts = resource(
        ROLE_POLICY,
        "deploy-parts",
        {
            "role": "deploy",
            "policy": _doc(
                {"Effect": UNKNOWN, "Action": "iam:CreateRole", "Resource": "*"},
                {"Effect": "Allow", "Action": UNKNOWN, "Resource": "*"},
                {"Effect": "Allow", "NotAction": UNKNOWN, "Resource": "*"},
            ),
        },
    )
    bounded = _role("bounded", BOUNDARY_ARN)
    unknown_condition = _role_policy(
        bounded,
        _doc(
            _bounded("iam:CreateRole", UNKNOWN),
            _bounded("iam:PutRolePolicy", {"StringEquals": UNKNOWN}),
        ),
    )
    preview_boundary = _policy("stack-role-boundary", BOUNDARY_DOC, known_arn=False)
    preview_role = _role("preview", preview_boundary, by_dependency=True)
    preview_inline = _role_policy(preview_role, _doc(_allow("iam:CreateRole")))
    unknown_boundary = _role("unknown", UNKNOWN)
    unknown_inline = _role_policy(unknown_boundary, _doc(_bounded("iam:CreateRole")))
    assert_passes(
        "iam-role-management-bounded",
        [
            role,
            unknown_document,
            unknown_statement,
            unknown_parts,
            bounded,
            unknown_condition,
            preview_boundary,
            preview_role,
            unknown_inline,
            unknown_boundary,
        ],
    )
    # The preview role's boundary is pending, its statement still lacks the condition.
    assert [
        v.message
        for v in analyze([preview_boundary, preview_role, preview_inline]).violations
        if v.policy == "iam-role-management-bounded"
    ] == [
        "IAM role 'preview': IAM RolePolicy 'preview-inline' statement 0 allows iam:CreateRole "
        "without a condition on iam:PermissionsBoundary, so the role can create or change "
        "roles that carry no permissions boundary. Add a Condition on iam:PermissionsBoundary "
        "to the statement: {'StringEquals': {'iam:PermissionsBoundary': '<boundary policy "
        "arn>'}}."
    ]


def test_role_management_checks_a_policy_attached_twice_once(assert_violation):
    policy = _policy("deploy", _doc(_allow("iam:CreateRole")))
    role = _role("deploy", BOUNDARY_ARN, extra={"managedPolicyArns": [policy["outputs"]["arn"]]})
    found = assert_violation(
        "iam-role-management-bounded",
        [policy, role, _attach(role, policy)],
        "without a condition on iam:PermissionsBoundary",
    )
    assert len(found) == 1


# --- iam-github-oidc-trust-scoped -----------------------------------------------------


def _github_role(condition, federated=GITHUB):
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": federated},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition is not None:
        statement["Condition"] = condition
    return resource(ROLE, "ci-deploy", {"assumeRolePolicy": json.dumps(_doc(statement))})


AUD = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}


def test_github_trust_fails_without_sub(assert_violation):
    role = _github_role({"StringEquals": AUD})
    assert_violation(
        "iam-github-oidc-trust-scoped",
        [role],
        "without a condition on token.actions.githubusercontent.com:sub",
    )


def test_github_trust_fails_on_wildcard_repo(assert_violation):
    role = _github_role(
        {"StringEquals": AUD, "StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}
    )
    assert_violation(
        "iam-github-oidc-trust-scoped", [role], "accepts sub 'repo:*', which does not pin"
    )


def test_github_trust_fails_on_org_wildcard_even_with_unknown_provider(assert_violation):
    role = _github_role(
        {
            "StringEquals": AUD,
            "StringLike": {"token.actions.githubusercontent.com:sub": ["repo:acme/*"]},
        },
        federated=UNKNOWN,
    )
    assert_violation("iam-github-oidc-trust-scoped", [role], "'repo:acme/*'")


def test_github_trust_fails_without_aud(assert_violation):
    role = _github_role(
        {
            "StringLike": {
                "token.actions.githubusercontent.com:sub": "repo:acme/ml:ref:refs/heads/main"
            }
        }
    )
    assert_violation("iam-github-oidc-trust-scoped", [role], ":aud = 'sts.amazonaws.com'")


def test_github_trust_passes_specific_repo(assert_passes):
    role = _github_role(
        {
            "StringEquals": AUD,
            "StringLike": {
                "token.actions.githubusercontent.com:sub": "repo:acme/ml:ref:refs/heads/*"
            },
        }
    )
    service_role = resource(ROLE, "train", {"assumeRolePolicy": TRUST_SERVICE})
    assert_passes("iam-github-oidc-trust-scoped", [role, service_role])


def test_github_trust_enforces_allowed_repositories(assert_violation, assert_passes):
    role = _github_role(
        {
            "StringEquals": {
                **AUD,
                "token.actions.githubusercontent.com:sub": "repo:other/x:environment:prod",
            }
        }
    )
    config = {"iam-github-oidc-trust-scoped": {"allowedRepositories": ["acme/ml"]}}
    assert_violation(
        "iam-github-oidc-trust-scoped",
        [role],
        "'other/x', which is not in allowedRepositories",
        config,
    )
    assert_passes(
        "iam-github-oidc-trust-scoped",
        [role],
        {"iam-github-oidc-trust-scoped": {"allowedRepositories": ["Other/X"]}},
    )


# --- iam-no-user-access-keys ----------------------------------------------------------


def test_access_key_fails(assert_violation):
    key = resource("aws:iam/accessKey:AccessKey", "ci-key", {"user": "ci"})
    assert_violation(
        "iam-no-user-access-keys", [key], "IAM access key 'ci-key' is a long-lived credential"
    )


def test_access_key_passes_without_keys(assert_passes):
    assert_passes("iam-no-user-access-keys", [resource("aws:iam/user:User", "ci", {"name": "ci"})])
