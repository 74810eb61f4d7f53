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

# The filestate backend's lock files: a reader (preview, stack output) may still take one.
LOCKS_PREFIX = ".pulumi/locks/"


@dataclass(frozen=True)
class PulumiBackend:
    partition: str = "aws"
    state_bucket: str = ""
    """Bucket of `s3://<bucket>` backend URLs; empty for Pulumi Cloud."""
    secrets_key_arn: str = ""
    """Key ARN of `awskms://` secrets providers; empty for passphrase or Pulumi Cloud."""

    def __bool__(self) -> bool:
        return bool(self.state_bucket or self.secrets_key_arn)


def backend_statements(backend: PulumiBackend, *, write: bool) -> list[dict[str, Any]]:
    """What `pulumi up`/`destroy` (write) or `preview`/`stack output` (read) need."""
    statements: list[dict[str, Any]] = []
    if backend.state_bucket:
        bucket = f"arn:{backend.partition}:s3:::{backend.state_bucket}"
        objects = f"{bucket}/*" if write else f"{bucket}/{LOCKS_PREFIX}*"
        statements += [
            {
                "Sid": "PulumiStateList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": bucket,
            },
            {
                "Sid": "PulumiStateRead",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": f"{bucket}/*",
            },
            {
                "Sid": "PulumiStateWrite" if write else "PulumiStateLocks",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": objects,
            },
        ]
    if backend.secrets_key_arn:
        actions = ["kms:Decrypt"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
        statements.append(
            {
                "Sid": "PulumiSecrets",
                "Effect": "Allow",
                "Action": actions,
                "Resource": backend.secrets_key_arn,
            }
        )
    return statements
