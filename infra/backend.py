"""A self-managed Pulumi backend the CI roles use: the S3 bucket holding the stacks' state
and the KMS key of their `awskms://` secrets provider (README, "Set it up").

Both live outside the stack (they must exist before its first `pulumi up`), so neither
the roles' policies nor their permissions boundary would reach them by the stack's
naming rules; `ciStateBucket` and `ciSecretsKmsKeyArn` name them, and the statements
below grant exactly what the Pulumi CLI does with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.policy_document import allow


@dataclass(frozen=True)
class PulumiBackend:
    partition: str = "aws"
    state_bucket: str = ""
    """Bucket of `s3://<bucket>` backend URLs; empty for Pulumi Cloud."""
    secrets_key_arn: str = ""
    """Key ARN of `awskms://` secrets providers; empty for passphrase or Pulumi Cloud."""
    project: str = ""
    stack: str = ""
    """The stack whose state the roles reach: never another stack's in a shared bucket."""

    def __bool__(self) -> bool:
        return bool(self.state_bucket or self.secrets_key_arn)

    def state_objects(self, *, locks_only: bool = False, compact: bool = False) -> list[str]:
        """This stack's objects in the DIY backend's project layout (`.pulumi/<kind>/
        <project>/<stack>`, the default since Pulumi 3.61; `pulumi state upgrade` moves
        older backends to it). `compact` folds the per-kind directories into one pattern
        (for the boundary, which must stay under the managed-policy size quota)."""
        root = f"arn:{self.partition}:s3:::{self.state_bucket}/.pulumi"
        where = f"{self.project}/{self.stack}"
        locks = [f"{root}/locks/organization/{where}/*"]
        if locks_only:
            return locks
        checkpoint = f"{root}/stacks/{where}.json*"
        if compact:
            return [checkpoint, f"{root}/*/{where}/*"]
        return [
            checkpoint,
            *(f"{root}/{kind}/{where}/*" for kind in ("history", "backups", "journal")),
            *locks,
        ]


def backend_ceiling(
    backend: PulumiBackend, principals: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """For the permissions boundary: everything `backend_statements` may grant, folded
    into one statement (the boundary must stay under the managed-policy size quota);
    still this stack's state only, and only for `principals` when given."""
    if not backend:
        return []
    resources: list[str] = []
    if backend.state_bucket:
        bucket = f"arn:{backend.partition}:s3:::{backend.state_bucket}"
        resources += [bucket, f"{bucket}/.pulumi/meta.yaml", *backend.state_objects(compact=True)]
    if backend.secrets_key_arn:
        resources.append(backend.secrets_key_arn)
    # Every action the writer is granted; each applies to its own service's ARNs only.
    actions = [a for grant in backend_statements(backend, write=True) for a in grant["Action"]]
    condition = {"ArnLike": principals} if principals else None
    return [allow("PulumiBackend", actions, resources, condition)]


def backend_statements(backend: PulumiBackend, *, write: bool) -> list[dict[str, Any]]:
    """What `pulumi up`/`destroy` (write) or `preview`/`stack output` (read) need, on this
    stack's state only: a bucket shared by all stacks must not let dev's deploy role
    rewrite prod's checkpoint. (A secrets key shared by stacks lets each decrypt the
    others' secrets: give each stack its own key.)"""
    statements: list[dict[str, Any]] = []
    if backend.state_bucket:
        bucket = f"arn:{backend.partition}:s3:::{backend.state_bucket}"
        statements += [
            # Listing names stacks, no more; the CLI lists to find them.
            allow("PulumiStateList", ["s3:ListBucket", "s3:GetBucketLocation"], bucket),
            allow(
                "PulumiStateRead",
                ["s3:GetObject"],
                [f"{bucket}/.pulumi/meta.yaml", *backend.state_objects()],
            ),
            # Readers (preview, stack output) may still take the stack's lock.
            allow(
                "PulumiStateWrite" if write else "PulumiStateLocks",
                ["s3:PutObject", "s3:DeleteObject"],
                backend.state_objects(locks_only=not write),
            ),
        ]
    if backend.secrets_key_arn:
        actions = ["kms:Decrypt"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
        statements.append(allow("PulumiSecrets", actions, backend.secrets_key_arn))
    return statements
