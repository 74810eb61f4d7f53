"""The ML lifecycle end to end on the emulator: the demo's flow with each stage's effect
asserted, a deployment whose health check fails (rolled back, the old model answers), and
a model below the gate (never registered)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from infra.sandbox import sandbox
from infra.sandbox.emulator import Emulator
from ml.data.reference import make_churn
from ml.demo import DemoSummary, prepare_project, run_demo
from ml.deploy import PACKAGE_KEY, DeploymentFailed, deploy, serving_dir, stop_serving
from ml.pipeline import GateFailed, run_pipeline
from ml.registry import ModelPackage, list_packages, register
from ml.serve.local import attach
from ml.stack import StackHandle, open_stack
from tests.integration.conftest import REPO, clean_emulator, emulator  # noqa: F401

pytestmark = [pytest.mark.emulator, pytest.mark.xdist_group("ml-lifecycle")]


@pytest.fixture(scope="module")
def demo(
    emulator: Emulator,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DemoSummary]:
    """The demo run once, kept up so its effects can be inspected, then torn down."""
    emulator.reset()
    root = tmp_path_factory.mktemp("demo") / "project"
    summary = run_demo(source=REPO, root=root, endpoint=emulator.url, keep=True, rows=3000)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_PROJECT_DIR", str(root))
        yield summary
        stop_serving("local", root)
        sandbox.down("local", root=root, keep_emulator=True)


def _register(
    demo: DemoSummary,
    handle: StackHandle,
    job: str,
    auc: float,
    *,
    model_data_url: str | None = None,
    approve: bool | None = None,
) -> ModelPackage:
    """A package trained (as `job`) on the demo's last dataset version."""
    return register(
        handle,
        model_data_url=model_data_url or f"s3://{handle.outputs.models_bucket}/{job}/model.tar.gz",
        image_uri=f"{handle.outputs.ecr_repository_url}:latest",
        metrics={"auc": auc},
        dataset_ref=demo.dataset_versions[-1],
        git_commit=hashlib.sha1(job.encode()).hexdigest(),
        training_job=job,
        approve=approve,
    )


def test_demo_pushes_two_dataset_versions(demo: DemoSummary) -> None:
    handle = open_stack("local", demo.root)
    assert len(demo.dataset_versions) == 2 and len(set(demo.dataset_versions)) == 2
    versions = handle.client("s3").list_object_versions(
        Bucket=handle.outputs.datasets_bucket, Prefix="datasets/churn/"
    )["Versions"]
    assert len(versions) == 2


def test_demo_registers_packages_with_lineage(demo: DemoSummary) -> None:
    handle = open_stack("local", demo.root)
    packages = {p.arn: p for p in list_packages(handle)}
    assert set(packages) == {demo.first_package, demo.second_package}
    second = packages[demo.second_package]
    assert second.lineage is not None
    assert second.lineage.dataset.name == "churn"
    assert f"churn@{second.lineage.dataset.version}" == demo.dataset_versions[1]
    assert second.lineage.git_commit and second.lineage.training_job.startswith(
        "mlops-platform-local-train-"
    )
    assert second.metrics["auc"] >= packages[demo.first_package].metrics["auc"] - 0.2


def test_demo_endpoint_serves_the_second_model(demo: DemoSummary) -> None:
    handle = open_stack("local", demo.root)
    sm = handle.client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName=handle.outputs.endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == demo.second_package
    stack_file = yaml.safe_load((demo.root / "stacks" / "Pulumi.local.yaml").read_text())
    assert stack_file["config"][PACKAGE_KEY] == demo.second_package
    local = attach(serving_dir("local", demo.root))
    assert local is not None and local.healthy()
    assert local.model_data_url.endswith("model.tar.gz")


def test_demo_captures_traffic_detects_drift_and_queues_one_request(demo: DemoSummary) -> None:
    handle = open_stack("local", demo.root)
    captured = handle.client("s3").list_objects_v2(
        Bucket=handle.outputs.capture_bucket, Prefix=handle.outputs.endpoint_name
    )
    assert captured.get("KeyCount", 0) > 0
    assert demo.requests_sent == 800
    assert demo.feature_drift is not None and demo.feature_drift > demo.drift_threshold
    assert demo.drifted_features
    assert demo.retraining_requests == 1, "the second monitoring run was deduplicated"
    assert demo.report is not None and demo.report.is_file()
    assert demo.second_package != demo.first_package


def test_a_failing_deployment_is_rolled_back(demo: DemoSummary) -> None:
    handle = open_stack("local", demo.root)
    before = attach(serving_dir("local", demo.root))
    assert before is not None
    broken = _broken_artifact(handle)
    package = _register(demo, handle, "broken", 0.99, model_data_url=broken)
    with pytest.raises(DeploymentFailed, match="Rolled back"):
        deploy("local", package.arn, root=demo.root)
    stack_file = yaml.safe_load((demo.root / "stacks" / "Pulumi.local.yaml").read_text())
    assert stack_file["config"][PACKAGE_KEY] == demo.second_package
    from ml.registry import ApprovalStatus, describe

    assert describe(handle, package.arn).status is ApprovalStatus.REJECTED
    after = attach(serving_dir("local", demo.root))
    assert after is not None and after.pid == before.pid, "the previous server still serves"
    row = make_churn(1, seed=9).drop(columns=["churned", "customer_id"], errors="ignore")
    body = json.dumps({"instances": json.loads(row.to_json(orient="records"))}).encode()
    request = urllib.request.Request(
        f"{after.url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        assert 0.0 <= json.loads(response.read())["predictions"][0] <= 1.0


def test_a_pipeline_run_resumes_where_it_stopped(demo: DemoSummary) -> None:
    first = run_pipeline("local", root=demo.root, deploy=False)
    assert first.status == "passed" and "deploy" not in first.steps
    resumed = run_pipeline("local", root=demo.root, resume=first.run_id)
    assert resumed.run_id == first.run_id and resumed.status == "deployed"
    for step in ("data", "train", "evaluate", "register"):
        assert resumed.steps[step] == first.steps[step], f"{step} ran again"
    assert resumed.steps["deploy"]["package"] == first.steps["register"]["package"]


def test_a_model_below_the_gate_is_never_registered(demo: DemoSummary, tmp_path: Path) -> None:
    handle = open_stack("local", demo.root)
    before = {p.arn for p in list_packages(handle)}
    noise = make_churn(1500, seed=11)
    rng = np.random.default_rng(0)
    noise["churned"] = rng.permutation(noise["churned"].to_numpy())  # labels carry no signal
    path = tmp_path / "noise.csv"
    noise.to_csv(path, index=False)
    with pytest.raises(GateFailed, match="FAILED"):
        run_pipeline("local", data=path, dataset="churn", root=demo.root)
    assert {p.arn for p in list_packages(handle)} == before


def _broken_artifact(handle: object) -> str:
    """A model.tar.gz whose model cannot be loaded: the server's /ping never turns 200."""
    outputs = handle.outputs  # type: ignore[attr-defined]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("model.joblib", b"not a model"), ("model_card.json", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    key = "training/broken/output/model.tar.gz"
    handle.client("s3").put_object(  # type: ignore[attr-defined]
        Bucket=outputs.models_bucket,
        Key=key,
        Body=buffer.getvalue(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=outputs.data_kms_key_arn,
    )
    return f"s3://{outputs.models_bucket}/{key}"


def test_prepare_project_copies_only_what_the_demo_edits(tmp_path: Path) -> None:
    root = prepare_project(REPO, tmp_path / "p")
    assert (root / "Pulumi.yaml").is_file()
    assert [p.name for p in (root / "stacks").iterdir()] == ["Pulumi.local.yaml"]


def test_a_promotion_writes_the_stack_file_and_applies_nothing(demo: DemoSummary) -> None:
    from typer.testing import CliRunner

    from ml.cli.main import app
    from ml.deploy import write_served_model

    handle = open_stack("local", demo.root)
    candidate = _register(demo, handle, "promotion", 0.9, approve=True)
    stack_path = demo.root / "stacks" / "Pulumi.local.yaml"
    # Whatever the earlier tests left serving (the demo's second model, or a resumed run's).
    serving = yaml.safe_load(stack_path.read_text())["config"][PACKAGE_KEY]
    try:
        result = CliRunner().invoke(
            app, ["deploy", "--stack", "local", "--model-package", candidate.arn, "--no-apply"]
        )
        assert result.exit_code == 0, result.output
        assert f"now serves {candidate.arn}" in result.output
        assert f"was endpointModelPackageArn={serving}" in result.output
        assert yaml.safe_load(stack_path.read_text())["config"][PACKAGE_KEY] == candidate.arn
        # Nothing applied: the endpoint still serves the previous package.
        sm = handle.client("sagemaker")
        endpoint = sm.describe_endpoint(EndpointName=handle.outputs.endpoint_name)
        config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        assert model["PrimaryContainer"]["ModelPackageName"] == serving
        again = CliRunner().invoke(
            app, ["deploy", "--stack", "local", "--model-package", candidate.arn, "--no-apply"]
        )
        assert again.exit_code == 0 and "already serves" in again.output
    finally:
        write_served_model("local", {PACKAGE_KEY: serving}, demo.root)


def test_only_an_approved_package_is_promoted(demo: DemoSummary) -> None:
    from typer.testing import CliRunner

    from ml.cli.main import app
    from ml.registry import reject

    handle = open_stack("local", demo.root)
    turned_down = _register(demo, handle, "rejected", 0.5)
    reject(handle, turned_down.arn, note="below expectations")
    before = (demo.root / "stacks" / "Pulumi.local.yaml").read_text()
    result = CliRunner().invoke(
        app, ["deploy", "--stack", "local", "--model-package", turned_down.arn, "--no-apply"]
    )
    assert result.exit_code == 2
    assert "not Approved" in result.output
    assert (demo.root / "stacks" / "Pulumi.local.yaml").read_text() == before


def test_a_promotion_the_stack_rules_refuse_writes_nothing(demo: DemoSummary) -> None:
    from typer.testing import CliRunner

    from ml.cli.main import app

    stack_path = demo.root / "stacks" / "Pulumi.local.yaml"
    original = stack_path.read_text()
    cluster = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/AB12"
    kubernetes = {
        "mlops-platform:kubernetesEnabled": True,
        "mlops-platform:kubernetesOidcProviderArn": cluster,
        "mlops-platform:kubernetesClusterName": "ml-platform",
    }
    document = yaml.safe_load(original)
    serving = document["config"][PACKAGE_KEY]
    document["config"].update(kubernetes)
    try:
        stack_path.write_text(yaml.safe_dump(document, sort_keys=False))
        before = stack_path.read_text()
        result = CliRunner().invoke(
            app, ["deploy", "--stack", "local", "--model-package", serving, "--no-apply"]
        )
        # The stack serves by package already: the same one is no change, so try another.
        assert result.exit_code == 0, result.output
        handle = open_stack("local", demo.root)
        other = _register(demo, handle, "k8s", 0.9, approve=True)
        result = CliRunner().invoke(
            app, ["deploy", "--stack", "local", "--model-package", other.arn, "--no-apply"]
        )
        assert result.exit_code == 2, result.output
        assert "not by model package" in result.output
        assert stack_path.read_text() == before
    finally:
        stack_path.write_text(original)
