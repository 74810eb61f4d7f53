"""IAM policies."""

from __future__ import annotations

import json

from policies.offline import UNKNOWN, resource

ROLE = "aws:iam/role:Role"
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
