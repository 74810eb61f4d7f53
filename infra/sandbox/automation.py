"""The real path: the Pulumi engine driven through the Automation API.

`mlops up|preview|destroy --stack NAME` run the project's program exactly as
`pulumi up -s NAME` would (same Pulumi.yaml, same stack file, the configured backend).
`mlops sandbox up --engine pulumi --endpoint URL` makes an ephemeral stack on a local
file backend under `.mlops/pulumi/`, with the AWS provider pointed at an emulator
(LocalStack on :4566, or any moto server): test keys, path-style S3, no credential or
account checks, and an endpoint for every service the stack uses.

All of it needs the `pulumi` CLI on PATH; without it each entry point raises
`PulumiCliMissing` before doing anything.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# Every AWS service the stack's resources use, by the provider's endpoint key.
EMULATED_SERVICES = (
    "s3",
    "iam",
    "sts",
    "kms",
    "ec2",
    "ecr",
    "sagemaker",
    "cloudwatch",
    "logs",
    "sns",
    "sqs",
    "events",
    "appautoscaling",
)
SANDBOX_BACKEND_DIR = Path(".mlops") / "pulumi"
# The file backend encrypts secrets with a passphrase; an ephemeral stack needs none.
_EPHEMERAL_PASSPHRASE = "mlops-sandbox"  # noqa: S105 (not a secret: a local test stack)


class PulumiCliMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "this needs the Pulumi CLI, which is not on PATH "
            "(install it: https://www.pulumi.com/docs/install/); "
            "without it use `mlops plan` or `mlops sandbox up` (embedded emulator)"
        )


def require_cli() -> str:
    path = shutil.which("pulumi")
    if path is None:
        raise PulumiCliMissing()
    return path


def emulator_provider_config(endpoint: str, region: str) -> dict[str, Any]:
    """`aws:` provider config that points every service the stack uses at `endpoint`."""
    return {
        "aws:region": region,
        "aws:accessKey": "test",
        "aws:secretKey": "test",
        "aws:s3UsePathStyle": "true",
        "aws:skipCredentialsValidation": "true",
        "aws:skipRequestingAccountId": "true",
        "aws:skipMetadataApiCheck": "true",
        "aws:skipRegionValidation": "true",
        "aws:endpoints": [{service: endpoint for service in EMULATED_SERVICES}],
    }


def _project_stack(stack: str, root: Path) -> Any:
    """The project's own stack, as `pulumi -s NAME` in the project directory selects it."""
    from pulumi import automation as auto

    require_cli()
    return auto.create_or_select_stack(stack_name=stack, work_dir=str(root))


class PolicyConfigMissing(FileNotFoundError):
    def __init__(self, path: Path, stack: str) -> None:
        super().__init__(
            f"{path} does not exist, so stack {stack!r} would run without its policy levels. "
            "Fix: python -m infra.policy_config (generates it from the stack file)"
        )


def _policy_args(stack: str, root: Path) -> dict[str, Any]:
    """The pack and the stack's config: every preview and up enforces the policies."""
    config = root / "policies" / "config" / f"{stack}.json"
    if not config.is_file():
        raise PolicyConfigMissing(config, stack)
    return {"policy_packs": [str(root / "policies")], "policy_pack_configs": [str(config)]}


def up(stack: str, root: Path, on_output: Callable[[str], None] = print) -> Mapping[str, Any]:
    pulumi_stack = _project_stack(stack, root)
    result = pulumi_stack.up(on_output=on_output, **_policy_args(stack, root))
    return {key: item.value for key, item in result.outputs.items()}


def preview(stack: str, root: Path, on_output: Callable[[str], None] = print) -> str:
    pulumi_stack = _project_stack(stack, root)
    result = pulumi_stack.preview(on_output=on_output, **_policy_args(stack, root))
    return str(result.stdout)


def destroy(stack: str, root: Path, on_output: Callable[[str], None] = print) -> None:
    _project_stack(stack, root).destroy(on_output=on_output)


def outputs(stack: str, root: Path) -> Mapping[str, Any]:
    """`pulumi stack output --json` for the project's stack."""
    return {key: item.value for key, item in _project_stack(stack, root).outputs().items()}


def _sandbox_stack(stack: str, root: Path, endpoint: str) -> Any:
    """An ephemeral stack: inline program, local file backend, provider at the emulator.

    The stack file under stacks/ is only read (through `resolve_stack`), never written:
    the emulator settings live in the ephemeral workspace's own stack settings.
    """
    from pulumi import automation as auto

    from infra.plan import resolve_stack
    from infra.stack import program

    require_cli()
    run = resolve_stack(stack, root=root)
    backend = (root / SANDBOX_BACKEND_DIR).resolve()
    backend.mkdir(parents=True, exist_ok=True)
    config = {**run.config, **emulator_provider_config(endpoint, run.region)}
    # Plain values as a stack file holds them; aws:endpoints stays a list of objects.
    stack_settings = auto.StackSettings(config=dict(config))
    options = auto.LocalWorkspaceOptions(
        work_dir=str(backend),
        project_settings=auto.ProjectSettings(
            name=run.project,
            runtime="python",
            backend=auto.ProjectBackend(url=f"file://{backend}"),
        ),
        stack_settings={stack: stack_settings},
        env_vars={"PULUMI_CONFIG_PASSPHRASE": _EPHEMERAL_PASSPHRASE},
    )
    return auto.create_or_select_stack(
        stack_name=stack, project_name=run.project, program=program, opts=options
    )


def sandbox_up(
    stack: str, root: Path, endpoint: str, on_output: Callable[[str], None] = print
) -> Mapping[str, Any]:
    result = _sandbox_stack(stack, root, endpoint).up(on_output=on_output)
    return {key: item.value for key, item in result.outputs.items()}


def sandbox_down(
    stack: str, root: Path, endpoint: str, on_output: Callable[[str], None] = print
) -> None:
    pulumi_stack = _sandbox_stack(stack, root, endpoint)
    pulumi_stack.destroy(on_output=on_output)
    pulumi_stack.workspace.remove_stack(stack)
