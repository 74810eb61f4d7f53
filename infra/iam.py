"""`Roles`: the stack's IAM roles with their trust policies, and nothing else.

Roles come first in the stack because KMS key policies (and bucket policies) name them and
KMS rejects principals that do not exist yet; the roles' permissions need those key and
bucket ARNs, so they are attached afterwards by `infra.permissions.Permissions`:
roles -> keys/buckets -> permissions.

Trust policies are pure functions of plain values (tested without the engine); the
component only resolves Inputs and creates the resources.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.backend import PulumiBackend
from infra.boundary import boundary_policy, boundary_policy_name
from infra.naming import (
    DEPLOY_ROLE,
    K8S_SERVING_ROLE,
    K8S_SERVING_SERVICE_ACCOUNT,
    K8S_TRAINING_ROLE,
    K8S_TRAINING_SERVICE_ACCOUNT,
    MONITORING_ROLE,
    PREVIEW_ROLE,
    RETRAIN_ROLE,
    SAGEMAKER_EXECUTION_ROLE,
    partition_for,
    physical_name,
    role_name,
)
from infra.policy_document import PolicyDocument, document
from infra.tags import merge_tags

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
# One hour: long enough for a `pulumi up` of this stack, short enough that a leaked
# session token is useless soon. Also the AWS default, stated so the policy pack sees it.
MAX_SESSION_SECONDS = 3600


# ---------------------------------------------------------------------------- helpers


def oidc_provider_arn_for(partition: str, account_id: str) -> str:
    """IAM names an OIDC provider after its URL: one GitHub provider per account."""
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"


def _walk_actions(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("Action", "NotAction"):
                values = [value] if isinstance(value, str) else value
                yield from (str(v) for v in values)
            else:
                yield from _walk_actions(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _walk_actions(item)


def wildcard_actions(doc: Any) -> list[str]:
    """Every `Action`/`NotAction` that is `*`, `*:*` or a whole service (`s3:*`), anywhere
    in a document (dict or JSON string), however deeply nested. Empty means clean."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    bad = []
    for action in _walk_actions(doc):
        service, _, name = action.partition(":")
        if "*" in (action, service, name) or not name:
            bad.append(action)
    return bad


def not_actions(doc: Any) -> list[str]:
    """`NotAction` entries, which allow everything else: never used by this project."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if "NotAction" in node:
                found.append(str(node["NotAction"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(doc)
    return found


# ---------------------------------------------------------------------------- trust policies


def sagemaker_trust_policy(account_id: str) -> PolicyDocument:
    """SageMaker may assume the execution role, only on behalf of this account (confused
    deputy protection: another account's job cannot make SageMaker act as our role)."""
    return document(
        {
            "Sid": "SageMakerAssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def deploy_subject(repository: str, environment: str) -> str:
    """The `sub` claim of a GitHub Actions job running in a GitHub environment.

    Environments can require reviewers and restrict branches, so trusting the environment
    (not a branch, not `repo:<name>:*`) is what gates deployments.
    """
    return f"repo:{repository}:environment:{environment}"


def ml_environment(deploy_environment: str, configured: str = "") -> str:
    """The GitHub environment of the retraining and promotion jobs."""
    chosen = configured or f"{deploy_environment}-ml"
    if chosen == deploy_environment:
        raise ValueError(
            f"the retraining role cannot trust the deploy environment {deploy_environment!r}: "
            "a job that can assume it could assume the deploy role too"
        )
    return chosen


def preview_subject(repository: str) -> str:
    """The `sub` claim of a GitHub Actions job triggered by a pull request."""
    return f"repo:{repository}:pull_request"


def github_trust_policy(provider_arn: str, subject: str, sid: str) -> PolicyDocument:
    """Trust GitHub's OIDC tokens for exactly one `sub` (StringEquals: no wildcard) and
    the STS audience (so a token minted for another cloud cannot be replayed here)."""
    return document(
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                    f"{GITHUB_OIDC_HOST}:sub": subject,
                }
            },
        }
    )


def service_account_trust_policy(
    provider_arn: str, namespace: str, service_account: str, sid: str
) -> PolicyDocument:
    """IRSA: a Kubernetes service account of the cluster whose IAM OIDC provider is
    `provider_arn` may assume the role, that one account in that namespace only, with a
    token minted for STS."""
    issuer = provider_arn.split(":oidc-provider/", 1)[1]
    return document(
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{issuer}:aud": STS_AUDIENCE,
                    f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                }
            },
        }
    )


def account_mfa_trust_policy(partition: str, account_id: str) -> PolicyDocument:
    """Principals of this account whose own IAM policy allows sts:AssumeRole on the role,
    and only with MFA: the monitoring role is for humans reading dashboards and logs.

    Note: sessions federated through IAM Identity Center (SSO) carry no
    aws:MultiFactorAuthPresent key, so they cannot use this role; give them a permission
    set instead. Automation should use its own role, not this one.
    """
    return document(
        {
            "Sid": "AccountPrincipalsWithMfa",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )


# ---------------------------------------------------------------------------- component


@dataclass(frozen=True)
class RolesArgs:
    prefix: str
    """Name prefix of the stack (cfg.name_prefix): roles are named `<prefix>-<role>`."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) for every taggable resource."""
    account_id: pulumi.Input[str]
    """AWS account the stack deploys to (e.g. aws.get_caller_identity_output().account_id)."""
    region: str
    """AWS region of the stack (cfg.region); picks the ARN partition."""
    environment: str
    """Environment name (cfg.environment.value): the default GitHub environment."""
    github_repository: str
    """GitHub owner/name whose workflows may deploy (cfg.ci.github_repository)."""
    github_environment: str = ""
    """GitHub environment allowed to deploy; empty means `environment`."""
    github_ml_environment: str = ""
    """GitHub environment of the retraining and promotion jobs; empty means
    `<deploy environment>-ml`. Never the deploy environment: a job that can assume the
    retraining role must not be able to assume the deploy role."""
    preview_from_pull_requests: bool = True
    """Create the read-only role that pull-request workflows assume to run previews."""
    oidc_provider_arn: str = ""
    """Existing GitHub OIDC provider ARN; empty creates one (one per URL per account)."""
    kubernetes_oidc_provider_arn: str = ""
    """IAM OIDC provider of the EKS cluster (cfg.kubernetes.oidc_provider_arn); with
    `kubernetes_namespace`, creates the roles of the serving and training pods (IRSA)."""
    kubernetes_namespace: str = ""
    """Namespace of the stack's workloads (cfg.kubernetes.namespace)."""
    backend: PulumiBackend = field(default_factory=PulumiBackend)
    """A self-managed Pulumi backend: the boundary lets the CI roles reach it."""
    eks_cluster: str = ""
    """The stack's EKS cluster: the boundary lets CI describe it (to connect)."""


class Roles(pulumi.ComponentResource):
    """The stack's IAM roles (trust policies only; see `infra.permissions`)."""

    sagemaker_role_arn: pulumi.Output[str]
    sagemaker_role_name: pulumi.Output[str]
    deploy_role_arn: pulumi.Output[str]
    deploy_role_name: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]
    preview_role_name: pulumi.Output[str]
    monitoring_role_arn: pulumi.Output[str]
    monitoring_role_name: pulumi.Output[str]
    retrain_role_arn: pulumi.Output[str]
    retrain_role_name: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    boundary_arn: pulumi.Output[str]
    kubernetes_serving_role_arn: pulumi.Output[str]
    kubernetes_serving_role_name: pulumi.Output[str]
    kubernetes_training_role_arn: pulumi.Output[str]
    kubernetes_training_role_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RolesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:iam:Roles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = partition_for(args.region)
        account = pulumi.Output.from_input(args.account_id)

        # GitHub's OIDC provider: accounts hold one per URL, so a second stack in the same
        # account must pass the existing ARN instead of creating a duplicate (which fails).
        depends: list[pulumi.Resource] = []
        if args.oidc_provider_arn:
            provider_arn: pulumi.Output[str] = pulumi.Output.from_input(args.oidc_provider_arn)
            trusted_provider = provider_arn
        else:
            provider_physical = physical_name(args.prefix, "github-oidc")
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_OIDC_URL,
                # Only STS may be the audience: tokens minted for anything else are refused.
                client_id_lists=[STS_AUDIENCE],
                # No thumbprints: IAM validates GitHub's certificate against its trusted
                # CAs; pinned thumbprints only break when GitHub rotates certificates.
                tags=merge_tags(args.tags, None, name=provider_physical),
                opts=child,
            )
            provider_arn = provider.arn
            # The provider's ARN is fixed by its URL: trust policies name it before it
            # exists, so they are known (and checked by the policy pack) at preview.
            trusted_provider = account.apply(lambda a: oidc_provider_arn_for(partition, a))
            depends.append(provider)

        # The ceiling of every role below (see infra.boundary); created first, as the
        # roles name it.
        boundary_physical = boundary_policy_name(args.prefix)
        boundary = aws.iam.Policy(
            f"{name}-boundary",
            name=boundary_physical,
            description=f"Permissions boundary of every role of the {args.prefix} stack",
            policy=account.apply(
                lambda a: json.dumps(
                    boundary_policy(
                        partition,
                        args.region,
                        a,
                        args.prefix,
                        args.backend,
                        eks_cluster=args.eks_cluster,
                    )
                )
            ),
            tags=merge_tags(args.tags, None, name=boundary_physical),
            opts=child,
        )

        def role(role_const: str, trust: pulumi.Output[str], description: str) -> aws.iam.Role:
            physical = role_name(args.prefix, role_const)
            return aws.iam.Role(
                f"{name}-{role_const}",
                name=physical,  # deterministic: key policies name it before it has an ARN
                description=description,
                assume_role_policy=trust,
                max_session_duration=MAX_SESSION_SECONDS,
                permissions_boundary=boundary.arn,
                tags=merge_tags(args.tags, None, name=physical),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )

        sagemaker = role(
            SAGEMAKER_EXECUTION_ROLE,
            account.apply(lambda a: json.dumps(sagemaker_trust_policy(a))),
            "SageMaker execution role of training jobs, models and endpoints",
        )
        github_env = args.github_environment or args.environment
        deploy = role(
            DEPLOY_ROLE,
            trusted_provider.apply(
                lambda arn: json.dumps(
                    github_trust_policy(
                        arn,
                        deploy_subject(args.github_repository, github_env),
                        "GitHubEnvironmentDeploy",
                    )
                )
            ),
            f"CI deploys from {args.github_repository} environment {github_env}",
        )
        # Retraining and promotion jobs run in their own GitHub environment: they install
        # packages and run the project's code with an OIDC token, which must not be one
        # the deploy role trusts. They get the data plane only.
        ml_env = ml_environment(github_env, args.github_ml_environment)
        retrain = role(
            RETRAIN_ROLE,
            trusted_provider.apply(
                lambda arn: json.dumps(
                    github_trust_policy(
                        arn,
                        deploy_subject(args.github_repository, ml_env),
                        "GitHubEnvironmentRetrain",
                    )
                )
            ),
            f"CI retraining from {args.github_repository} environment {ml_env}",
        )
        if args.preview_from_pull_requests:
            preview_role = role(
                PREVIEW_ROLE,
                trusted_provider.apply(
                    lambda arn: json.dumps(
                        github_trust_policy(
                            arn,
                            preview_subject(args.github_repository),
                            "GitHubPullRequestPreview",
                        )
                    )
                ),
                f"Read-only previews from pull requests of {args.github_repository}",
            )
            preview_arn: pulumi.Output[str] = preview_role.arn
            preview_name: pulumi.Output[str] = preview_role.name
        else:
            # Disabled: empty strings keep the exported contract (StackOutputs) stable.
            preview_arn = pulumi.Output.from_input("")
            preview_name = pulumi.Output.from_input("")
        monitoring = role(
            MONITORING_ROLE,
            account.apply(lambda a: json.dumps(account_mfa_trust_policy(partition, a))),
            "Read-only access to the stack's metrics, alarms and logs (MFA required)",
        )

        k8s_serving, k8s_training = self._kubernetes_roles(args, role)

        self.sagemaker_role_arn = sagemaker.arn
        self.sagemaker_role_name = sagemaker.name
        self.deploy_role_arn = deploy.arn
        self.deploy_role_name = deploy.name
        self.preview_role_arn = preview_arn
        self.preview_role_name = preview_name
        self.monitoring_role_arn = monitoring.arn
        self.monitoring_role_name = monitoring.name
        self.retrain_role_arn = retrain.arn
        self.retrain_role_name = retrain.name
        self.oidc_provider_arn = provider_arn
        self.boundary_arn = boundary.arn
        self.kubernetes_serving_role_arn, self.kubernetes_serving_role_name = k8s_serving
        self.kubernetes_training_role_arn, self.kubernetes_training_role_name = k8s_training
        self.register_outputs(
            {
                "boundary_arn": self.boundary_arn,
                "kubernetes_serving_role_arn": self.kubernetes_serving_role_arn,
                "kubernetes_serving_role_name": self.kubernetes_serving_role_name,
                "kubernetes_training_role_arn": self.kubernetes_training_role_arn,
                "kubernetes_training_role_name": self.kubernetes_training_role_name,
                "sagemaker_role_arn": self.sagemaker_role_arn,
                "sagemaker_role_name": self.sagemaker_role_name,
                "deploy_role_arn": self.deploy_role_arn,
                "deploy_role_name": self.deploy_role_name,
                "preview_role_arn": self.preview_role_arn,
                "preview_role_name": self.preview_role_name,
                "monitoring_role_arn": self.monitoring_role_arn,
                "monitoring_role_name": self.monitoring_role_name,
                "retrain_role_arn": self.retrain_role_arn,
                "retrain_role_name": self.retrain_role_name,
                "oidc_provider_arn": self.oidc_provider_arn,
            }
        )

    @staticmethod
    def _kubernetes_roles(
        args: RolesArgs, role: Callable[[str, pulumi.Output[str], str], aws.iam.Role]
    ) -> tuple[tuple[pulumi.Output[str], pulumi.Output[str]], ...]:
        """(arn, name) of the serving and training pods' roles; empty strings without a
        cluster, which keeps the component's outputs the same shape."""
        cluster, namespace = args.kubernetes_oidc_provider_arn, args.kubernetes_namespace
        if not (cluster and namespace):
            empty = pulumi.Output.from_input("")
            return (empty, empty), (empty, empty)
        made = []
        for const, account, sid, what in (
            (K8S_SERVING_ROLE, K8S_SERVING_SERVICE_ACCOUNT, "ModelServerPods", "Model-serving"),
            (K8S_TRAINING_ROLE, K8S_TRAINING_SERVICE_ACCOUNT, "TrainingPods", "Training"),
        ):
            trust = service_account_trust_policy(cluster, namespace, account, sid)
            made.append(
                role(
                    const,
                    pulumi.Output.from_input(json.dumps(trust)),
                    f"{what} pods of namespace {namespace} (IRSA)",
                )
            )
        return tuple((r.arn, r.name) for r in made)
