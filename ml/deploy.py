"""Promote an approved model package: make it the stack's served model and apply the stack.

The served model is data in the stack file (`endpointModelPackageArn`), so a promotion is
a reviewed, versioned change like any other: this module writes that key (keeping the
file's comments), applies the stack (the sandbox deployer, or `pulumi up` on the real
path), and checks that the endpoint answers. When the check fails, the previous value is
written back and applied again, and the previous model keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ml.stack import StackHandle, open_stack

if TYPE_CHECKING:
    from ml.registry import ModelPackage

log = logging.getLogger(__name__)

PACKAGE_KEY = "mlops-platform:endpointModelPackageArn"
IMAGE_KEY = "mlops-platform:endpointModelImage"
DATA_KEY = "mlops-platform:endpointModelDataKey"
SERVED_KEYS = (PACKAGE_KEY, IMAGE_KEY, DATA_KEY)
SERVING_SUBDIR = "serving"


class DeployInputError(ValueError):
    """The package cannot be deployed as asked (unknown, not approved, no stack)."""


class DeploymentFailed(RuntimeError):
    """The new model failed its health check; the previous one was restored."""


@dataclass(frozen=True)
class DeployResult:
    stack: str
    package_arn: str
    previous: dict[str, str]
    endpoint: str
    url: str | None
    """The local endpoint's URL for a sandbox stack; None on the real path."""


def serving_dir(stack: str, root: Path | None = None) -> Path:
    """Where a sandbox stack's local endpoint is recorded."""
    from infra.sandbox.sandbox import sandbox_dir

    return sandbox_dir(stack, root) / SERVING_SUBDIR


def served_model(stack: str, root: Path | None = None) -> dict[str, str]:
    """The served-model keys the stack file sets now."""
    from infra.config import load_project

    values = load_project(root).stack_values(stack)
    return {key: str(values[key]) for key in SERVED_KEYS if values.get(key)}


def write_served_model(stack: str, served: dict[str, str], root: Path | None = None) -> None:
    """Replace the served-model keys in the stack file, keeping everything else verbatim."""
    from ruamel.yaml import YAML

    from infra.config import load_project

    path = load_project(root).stack_file(stack)
    yaml = YAML()  # round-trip mode: comments and key order survive
    yaml.preserve_quotes = True
    document = yaml.load(path.read_text(encoding="utf-8"))
    config = document.setdefault("config", {})
    for key in SERVED_KEYS:
        if key in served:
            config[key] = served[key]
        elif key in config:
            del config[key]
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(document, handle)


@dataclass(frozen=True)
class Promotion:
    stack: str
    package_arn: str
    previous: dict[str, str]
    stack_file: Path

    @property
    def changed(self) -> bool:
        return self.previous != {PACKAGE_KEY: self.package_arn}


def promote(stack: str, package_arn: str, *, root: Path | None = None) -> Promotion:
    """Make `package_arn` the stack's served model in its stack file, and apply nothing:
    the change goes through a pull request, its preview and policy checks, and is applied
    by the deploy workflow on merge (the GitOps path for stacks on the real path)."""
    from infra.config import load_project

    _approved(open_stack(stack, root), stack, package_arn)
    previous = served_model(stack, root)
    if previous != {PACKAGE_KEY: package_arn}:
        _check_served_config(stack, {PACKAGE_KEY: package_arn}, root)
        write_served_model(stack, {PACKAGE_KEY: package_arn}, root)
    return Promotion(stack, package_arn, previous, load_project(root).stack_file(stack))


def _check_served_config(stack: str, served: dict[str, str], root: Path | None) -> None:
    """The stack file as it would be, validated before it is written: a promotion that
    the stack's own rules refuse (e.g. a package on a Kubernetes stack, which serves by
    image) is refused here, not by the pull request's checks."""
    from infra.config import ConfigError, load_project, parse_config

    project = load_project(root)
    values = {**project.defaults, **project.stack_values(stack)}
    for key in SERVED_KEYS:
        values.pop(key, None)
    values.update(served)
    try:
        parse_config(values, project=project.name, stack=stack, source=f"stack {stack!r}")
    except ConfigError as exc:
        raise DeployInputError(
            f"serving {served} on {stack!r} would make its stack file invalid: {exc}"
        ) from None


def _approved(handle: StackHandle, stack: str, package_arn: str) -> ModelPackage:
    """The package, which must be in the stack's registry and Approved."""
    from ml.registry import ApprovalStatus, UnknownModelPackage, describe

    try:
        package = describe(handle, package_arn)
    except UnknownModelPackage as exc:
        raise DeployInputError(str(exc)) from None
    if package.status is not ApprovalStatus.APPROVED:
        raise DeployInputError(
            f"model package {package_arn} is {package.status.value}, not Approved. Fix: "
            f"`mlops models approve {package_arn} --stack {stack}` after review"
        )
    return package


def deploy(
    stack: str,
    package_arn: str,
    *,
    root: Path | None = None,
    capture_flush_seconds: float = 60.0,
    on_progress: Callable[[str], None] = log.info,
) -> DeployResult:
    """Serve `package_arn` on the stack; roll back to the previous model when it fails."""
    from ml.registry import reject

    handle = open_stack(stack, root)
    package = _approved(handle, stack, package_arn)
    previous = served_model(stack, root)
    _check_served_config(stack, {PACKAGE_KEY: package_arn}, root)
    write_served_model(stack, {PACKAGE_KEY: package_arn}, root)
    on_progress(f"stack file: {PACKAGE_KEY} = {package_arn}")
    try:
        url = _apply_and_check(stack, handle, package.model_data_url, root, capture_flush_seconds)
    except Exception as exc:
        on_progress(f"health check failed ({exc}); restoring the previous model")
        write_served_model(stack, previous, root)
        _apply(stack, handle, root)
        # A package that failed its health check must not become the champion the next
        # evaluation compares against: the registry records why it was turned down.
        reject(handle, package_arn, note=f"deployment health check failed: {exc}"[:1000])
        raise DeploymentFailed(
            f"deploying {package_arn} to {stack!r} failed: {exc}. Rolled back: the stack file "
            f"and endpoint serve {previous.get(PACKAGE_KEY) or previous or 'no model'} again, "
            "and the package is marked Rejected in the registry"
        ) from exc
    return DeployResult(stack, package_arn, previous, handle.outputs.endpoint_name, url)


def _apply(stack: str, handle: StackHandle, root: Path | None) -> None:
    if handle.is_sandbox:
        from infra.sandbox import sandbox

        state = sandbox.status(stack, root)
        sandbox.up(stack, root=root, endpoint=state.external_url or None)
    else:
        from infra.config import repo_root
        from infra.sandbox import automation

        automation.up(stack, root or repo_root())


def _apply_and_check(
    stack: str, handle: StackHandle, model_data_url: str, root: Path | None, flush: float
) -> str | None:
    _apply(stack, handle, root)
    fresh = open_stack(stack, root)
    status = fresh.client("sagemaker").describe_endpoint(EndpointName=fresh.outputs.endpoint_name)[
        "EndpointStatus"
    ]
    if status != "InService":
        raise RuntimeError(f"endpoint {fresh.outputs.endpoint_name} is {status}")
    if not fresh.is_sandbox:
        return None
    # The emulator cannot run containers: the model serves locally, and its /ping is the
    # health check. A failed start leaves the previous local server answering.
    from ml.serve.local import start_local_endpoint

    endpoint = start_local_endpoint(
        fresh,
        model_data_url,
        state_dir=serving_dir(stack, root),
        capture_flush_seconds=flush,
    )
    return endpoint.url


def stop_serving(stack: str, root: Path | None = None) -> bool:
    """Stop a sandbox stack's local endpoint (what `sandbox down` calls)."""
    from ml.serve.local import stop_local_endpoint

    return stop_local_endpoint(serving_dir(stack, root))
