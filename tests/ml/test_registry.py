"""The model registry against the emulator's SageMaker: lineage round trips, approval by
the stack's flag, approve/reject, the champion, and `mlops models`."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.outputs import StackOutputs
from infra.sandbox.emulator import Emulator
from infra.sandbox.state import SandboxState, StateStore
from ml.cli.main import app
from ml.registry import (
    ApprovalStatus,
    DatasetRef,
    ModelPackageGroupMissing,
    RegistryInputError,
    UnknownModelPackage,
    approve,
    champion,
    describe,
    list_packages,
    register,
    reject,
)
from ml.stack import StackHandle
from tests.integration.conftest import emulator, sandbox_project  # noqa: F401
from tests.ml.test_serve_model import make_outputs

pytestmark = pytest.mark.emulator

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-test-models:serve-1.4"
METRICS = {"auc": 0.8734, "accuracy": 0.81, "log_loss": 0.4187}


def stack(emulator: Emulator, **overrides: Any) -> StackHandle:  # noqa: F811
    """A stack with a model package group of its own: tests share the session's emulator
    (resetting it costs seconds), so each works in a group nobody else uses."""
    group = f"mlops-test-{uuid.uuid4().hex[:12]}-models"
    outputs = make_outputs(model_package_group_name=group, **overrides)
    emulator.client("sagemaker").create_model_package_group(
        ModelPackageGroupName=outputs.model_package_group_name
    )
    return StackHandle(outputs, endpoint_url=emulator.url)


def register_one(handle: StackHandle, n: int = 1, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "model_data_url": f"s3://mlops-test-models/training/job-{n}/output/model.tar.gz",
        "image_uri": IMAGE,
        "metrics": {**METRICS, "auc": 0.8 + n / 100},
        "dataset_ref": DatasetRef("churn", f"v{n}"),
        "git_commit": f"{n:040x}",
        "training_job": f"train-job-{n}",
    }
    arguments.update(overrides)
    return register(handle, **arguments)


def test_lineage_round_trips_through_describe_and_list(emulator: Emulator) -> None:  # noqa: F811
    handle = stack(emulator)

    package = register_one(handle, metrics=METRICS)

    described, listed = describe(handle, package.arn), list_packages(handle)
    assert listed == [described] == [package]
    assert package.version == 1
    assert package.image_uri == IMAGE
    assert package.model_data_url.endswith("/job-1/output/model.tar.gz")
    assert package.lineage is not None
    assert package.lineage.dataset == DatasetRef("churn", "v1")
    assert package.lineage.git_commit == f"{1:040x}"
    assert package.lineage.training_job == "train-job-1"
    assert package.lineage.image_uri == IMAGE
    assert dict(package.metrics) == METRICS  # exactly: repr(float) round-trips
    raw = emulator.client("sagemaker").describe_model_package(ModelPackageName=package.arn)
    spec = raw["InferenceSpecification"]
    assert spec["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert raw["MetadataProperties"] == {"CommitId": f"{1:040x}", "GeneratedBy": "train-job-1"}


def test_the_data_packages_dataset_version_and_a_reference_string_are_accepted(
    emulator: Emulator,  # noqa: F811
) -> None:
    handle = stack(emulator)

    class DatasetVersion:  # the shape of ml.data.manifest.DatasetVersion
        dataset = "churn"
        version = "3HL4kqtJlcp"

    first = register_one(handle, dataset_ref=DatasetVersion())
    second = register_one(handle, 2, dataset_ref="churn@v7")

    assert first.lineage and first.lineage.dataset == DatasetRef("churn", "3HL4kqtJlcp")
    assert second.lineage and second.lineage.dataset == DatasetRef("churn", "v7")


@pytest.mark.parametrize(
    ("auto", "override", "status"),
    [
        (True, None, ApprovalStatus.APPROVED),
        (False, None, ApprovalStatus.PENDING),
        (False, True, ApprovalStatus.APPROVED),
        (True, False, ApprovalStatus.PENDING),
    ],
)
def test_new_packages_are_approved_as_the_stack_says(
    emulator: Emulator,  # noqa: F811
    auto: bool,
    override: bool | None,
    status: ApprovalStatus,
) -> None:
    handle = stack(emulator, registry_auto_approve=auto)

    assert register_one(handle, approve=override).status is status


def test_approve_and_reject_change_the_status_and_keep_the_note(
    emulator: Emulator,  # noqa: F811
) -> None:
    handle = stack(emulator, registry_auto_approve=False)
    first, second = register_one(handle, 1), register_one(handle, 2)

    approved = approve(handle, first.arn, "holdout report reviewed")
    rejected = reject(handle, second.arn, "fails on the new region")

    assert (approved.status, approved.approval_note) == (
        ApprovalStatus.APPROVED,
        "holdout report reviewed",
    )
    assert describe(handle, second.arn).status is ApprovalStatus.REJECTED
    assert rejected.approval_note == "fails on the new region"


def test_the_champion_is_the_newest_approved_package(emulator: Emulator) -> None:  # noqa: F811
    handle = stack(emulator, registry_auto_approve=False)
    assert champion(handle) is None

    first = register_one(handle, 1, approve=True)
    second = register_one(handle, 2, approve=True)
    register_one(handle, 3)  # pending: not a champion

    best = champion(handle)
    assert best is not None and best.arn == second.arn
    assert best.metrics["auc"] == pytest.approx(0.82, abs=1e-12)

    reject(handle, second.arn, "regression found in production")
    fallback = champion(handle)
    assert fallback is not None and fallback.arn == first.arn


def test_an_unknown_arn_is_refused_listing_the_known_ones(emulator: Emulator) -> None:  # noqa: F811
    handle = stack(emulator)
    known = register_one(handle)
    missing = known.arn.rsplit("/", 1)[0] + "/99"

    with pytest.raises(UnknownModelPackage) as caught:
        approve(handle, missing, "")

    assert caught.value.known == (known.arn,)
    assert known.arn in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dataset_ref": DatasetRef("churn, eu", "v1")}, "contains ','"),
        ({"metrics": {"auc": math.nan}}, "cannot be compared"),
        ({"metrics": {"auc": "high"}}, "not a number"),
        ({"model_data_url": "/tmp/model.tar.gz"}, "not an s3://bucket/key URL"),
        ({"dataset_ref": "churn"}, "names no dataset version"),
    ],
)
def test_refused_lineage_registers_nothing(
    emulator: Emulator,  # noqa: F811
    overrides: dict[str, Any],
    message: str,
) -> None:
    handle = stack(emulator)

    with pytest.raises(RegistryInputError, match=message):
        register_one(handle, **overrides)
    assert list_packages(handle) == []


def test_a_stack_without_its_group_is_told_to_deploy(emulator: Emulator) -> None:  # noqa: F811
    outputs = make_outputs(model_package_group_name="mlops-test-never-deployed")
    handle = StackHandle(outputs, endpoint_url=emulator.url)

    with pytest.raises(ModelPackageGroupMissing, match="mlops sandbox up --stack test"):
        register_one(handle)


# --- mlops models -----------------------------------------------------------------------


def sandbox_stack(root: Path, name: str, outputs: StackOutputs, url: str) -> None:
    """Record `outputs` as sandbox stack `name` in the project at `root`, so that
    `open_stack(name)` (what the CLI calls) finds it in the emulator at `url`."""
    directory = root / ".mlops" / "sandbox" / name
    state = SandboxState(stack=name, outputs=outputs.model_dump(by_alias=True), emulator_url=url)
    StateStore(directory, name).save(state)


def test_models_cli_lists_approves_and_rejects(
    emulator: Emulator,  # noqa: F811
    sandbox_project: Path,  # noqa: F811
) -> None:
    handle = stack(emulator, registry_auto_approve=False)
    sandbox_stack(sandbox_project, "sbx", handle.outputs, emulator.url)
    first, second = register_one(handle, 1), register_one(handle, 2)
    runner = CliRunner()

    approved = runner.invoke(
        app, ["models", "approve", first.arn, "--stack", "sbx", "--note", "ok"]
    )
    rejected = runner.invoke(app, ["models", "reject", second.arn, "--stack", "sbx"])
    listed = runner.invoke(app, ["models", "list", "--stack", "sbx", "--json"])
    table = runner.invoke(app, ["models", "list", "--stack", "sbx"])

    assert approved.exit_code == 0 and "Approved" in approved.output
    assert rejected.exit_code == 0 and "Rejected" in rejected.output
    rows = json.loads(listed.output)
    assert [(r["version"], r["status"], r["champion"]) for r in rows] == [
        (2, "Rejected", False),
        (1, "Approved", True),
    ]
    assert rows[1]["approval_note"] == "ok" and rows[1]["metrics"]["auc"] == pytest.approx(0.81)
    assert table.exit_code == 0 and "(champion)" in table.output


def test_models_cli_exits_2_for_an_unknown_arn_and_lists_the_known(
    emulator: Emulator,  # noqa: F811
    sandbox_project: Path,  # noqa: F811
) -> None:
    handle = stack(emulator)
    sandbox_stack(sandbox_project, "sbx", handle.outputs, emulator.url)
    known = register_one(handle)

    result = CliRunner().invoke(
        app,
        [
            "models",
            "approve",
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/x/9",
            "--stack",
            "sbx",
        ],
    )

    assert result.exit_code == 2
    assert "Known packages" in result.output and known.arn in result.output


def test_models_cli_exits_2_for_a_stack_that_is_not_deployed(
    sandbox_project: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")  # no Pulumi CLI either
    monkeypatch.delenv("MLOPS_STACK_OUTPUTS", raising=False)

    result = CliRunner().invoke(app, ["models", "list", "--stack", "nowhere"])

    assert result.exit_code == 2
    assert "mlops sandbox up --stack nowhere" in result.output
