"""Sandbox endpoints: the server as a detached local process (start, attach, replace,
stop), and `mlops predict` against it and against a SageMaker endpoint."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from infra.sandbox.emulator import Emulator
from ml.cli.main import app
from ml.cli.predict_cmd import serving_dir
from ml.serve import (
    LocalEndpointError,
    ModelArtifactError,
    attach,
    start_local_endpoint,
    stop_local_endpoint,
)
from ml.stack import StackHandle
from tests.integration.conftest import emulator, sandbox_project  # noqa: F401
from tests.ml.test_registry import sandbox_stack
from tests.ml.test_serve_model import (
    build_archive,
    build_model_dir,
    expected_probabilities,
    make_outputs,
    sample_rows,
)

pytestmark = pytest.mark.emulator

CSV_BODY = b"25,31000,basic\n61,72000,team\n44,50500,pro\n"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def handle(emulator: Emulator) -> StackHandle:  # noqa: F811
    """A stack with buckets and a key of its own in the session's (shared) emulator."""
    suffix = uuid.uuid4().hex[:12]
    key_arn = emulator.client("kms").create_key()["KeyMetadata"]["Arn"]
    outputs = make_outputs(
        models_bucket=f"models-{suffix}",
        capture_bucket=f"capture-{suffix}",
        data_kms_key_arn=key_arn,
    )
    for bucket in (outputs.models_bucket, outputs.capture_bucket):
        emulator.client("s3").create_bucket(Bucket=bucket)
    return StackHandle(outputs, endpoint_url=emulator.url)


def upload_model(handle: StackHandle, tmp_path: Path, name: str, **build: Any) -> tuple[str, Path]:
    """Build a model directory, upload its archive; returns (s3 URL, local model dir)."""
    model_dir = build_model_dir(tmp_path / name, **build)
    archive = build_archive(model_dir, tmp_path / f"{name}.tar.gz")
    key = f"training/{name}/output/model.tar.gz"
    handle.client("s3").upload_file(str(archive), handle.outputs.models_bucket, key)
    return f"s3://{handle.outputs.models_bucket}/{key}", model_dir


def predict(url: str, body: bytes = CSV_BODY) -> list[float]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "text/csv"}
    )
    with _OPENER.open(request, timeout=30) as response:
        return [float(line) for line in response.read().decode().splitlines()]


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "serving"
    yield directory
    stop_local_endpoint(directory)  # a failing test must not leave a server behind


def test_a_local_endpoint_serves_is_replaced_without_a_gap_and_stops(
    handle: StackHandle, tmp_path: Path, state_dir: Path
) -> None:
    first_url, first_dir = upload_model(handle, tmp_path, "first", seed=7)
    second_url, second_dir = upload_model(handle, tmp_path, "second", seed=8)
    broken = tmp_path / "broken.tar.gz"
    build_archive(build_model_dir(tmp_path / "broken"), broken)
    (tmp_path / "broken" / "model.joblib").unlink()
    build_archive(tmp_path / "broken", broken)
    handle.client("s3").upload_file(str(broken), handle.outputs.models_bucket, "broken.tar.gz")

    first = start_local_endpoint(handle, first_url, state_dir=state_dir)
    attached = attach(state_dir)
    first_answer = predict(first.url)
    with pytest.raises(ModelArtifactError, match="no top-level model.joblib"):
        start_local_endpoint(
            handle, f"s3://{handle.outputs.models_bucket}/broken.tar.gz", state_dir=state_dir
        )
    still = attach(state_dir)
    second = start_local_endpoint(handle, second_url, state_dir=state_dir)
    second_answer = predict(second.url)
    first_gone = not running(first.pid)
    stopped = stop_local_endpoint(state_dir)

    assert attached == first and first.healthy() is False  # stopped by the replacement
    rows = sample_rows()
    np.testing.assert_allclose(first_answer, expected_probabilities(first_dir, rows), atol=1e-12)
    np.testing.assert_allclose(second_answer, expected_probabilities(second_dir, rows), atol=1e-12)
    assert still is not None and still.pid == first.pid  # a bad artifact changed nothing
    assert second.pid != first.pid and first_gone
    assert stopped and attach(state_dir) is None and not running(second.pid)
    assert not (state_dir / "serving.json").exists()
    assert not Path(first.model_dir).exists() and not Path(second.model_dir).exists()
    # Each server wrote its captured request when it was stopped (SIGTERM flushes).
    listed = handle.client("s3").list_objects_v2(Bucket=handle.outputs.capture_bucket)
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert len(keys) == 2
    endpoint = handle.outputs.endpoint_name
    assert all(k.startswith(f"{endpoint}/{endpoint}/primary/") for k in keys)


def test_a_server_whose_model_cannot_load_exits_and_the_error_quotes_its_log(
    handle: StackHandle, tmp_path: Path, state_dir: Path
) -> None:
    url, _ = upload_model(handle, tmp_path, "mismatch", card={"feature_names": ["a", "b"]})

    with pytest.raises(LocalEndpointError) as caught:
        start_local_endpoint(handle, url, state_dir=state_dir)

    message = str(caught.value)
    assert "exited with code 1" in message
    assert "the model failed to load" in message and "fitted on" in message
    assert attach(state_dir) is None
    assert not any((state_dir / "models").iterdir())


# --- mlops predict ----------------------------------------------------------------------


def test_predict_sends_rows_to_a_sandbox_stacks_local_endpoint(
    emulator: Emulator,  # noqa: F811
    handle: StackHandle,
    tmp_path: Path,
    sandbox_project: Path,  # noqa: F811
) -> None:
    sandbox_stack(sandbox_project, "sbx", handle.outputs, emulator.url)
    url, model_dir = upload_model(handle, tmp_path, "served")
    rows_csv = tmp_path / "rows.csv"
    rows_csv.write_bytes(CSV_BODY)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("25,31000\n")
    records = json.dumps({"instances": sample_rows().to_dict(orient="records")})
    runner = CliRunner()
    endpoint = start_local_endpoint(handle, url, state_dir=serving_dir("sbx"))
    try:
        as_csv = runner.invoke(
            app, ["predict", "--stack", "sbx", "--file", str(rows_csv), "--inference-id", "o-1"]
        )
        as_json = runner.invoke(app, ["predict", "--stack", "sbx", "--json", records])
        refused = runner.invoke(app, ["predict", "--stack", "sbx", "--file", str(bad_csv)])
    finally:
        endpoint.stop()
    after = runner.invoke(app, ["predict", "--stack", "sbx", "--json", records])

    expected = expected_probabilities(model_dir, sample_rows())
    assert as_csv.exit_code == 0, as_csv.output
    np.testing.assert_allclose([float(v) for v in as_csv.output.split()], expected, atol=1e-12)
    assert as_json.exit_code == 0, as_json.output
    np.testing.assert_allclose(json.loads(as_json.output)["predictions"], expected, atol=1e-12)
    assert refused.exit_code == 2 and "row 1 has 2 values, expected 3" in refused.output
    assert after.exit_code == 2 and "nothing is deployed on sandbox stack 'sbx'" in after.output


def test_predict_invokes_a_real_stacks_sagemaker_endpoint(
    emulator: Emulator,  # noqa: F811
    sandbox_project: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outputs = make_outputs(endpoint_name=f"ep-{uuid.uuid4().hex[:12]}-endpoint")
    exports = tmp_path / "outputs.json"
    exports.write_text(outputs.model_dump_json(by_alias=True))
    monkeypatch.setenv("MLOPS_STACK_OUTPUTS", str(exports))
    for name, value in emulator.env().items():  # boto3 reaches the emulator through these
        monkeypatch.setenv(name, value)
    # moto answers InvokeEndpoint from a queue of canned results.
    canned = {
        "results": [
            {
                "Body": "0.25\n",
                "ContentType": "text/csv",
                "InvokedProductionVariant": "primary",
                "CustomAttributes": "",
            }
        ]
    }
    request = urllib.request.Request(
        f"{emulator.url}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps(canned).encode(),
        method="POST",
    )
    _OPENER.open(request, timeout=10).close()

    result = CliRunner().invoke(app, ["predict", "--stack", "prod-like", "--json", "[{}]"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "0.25"


def test_predict_exits_2_when_the_stack_serves_nothing(
    sandbox_project: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exports = tmp_path / "outputs.json"
    exports.write_text(make_outputs(endpoint_deployed=False).model_dump_json(by_alias=True))
    monkeypatch.setenv("MLOPS_STACK_OUTPUTS", str(exports))

    result = CliRunner().invoke(app, ["predict", "--stack", "prod-like", "--json", "[]"])

    assert result.exit_code == 2
    assert "endpoint_deployed is false" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "exactly one of --file"),
        (["--json", "{oops"], "--json is not valid JSON"),
        (["--file", "rows.parquet"], "unknown type '.parquet'"),
    ],
)
def test_predict_refuses_unusable_input_before_calling_anything(
    arguments: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["predict", "--stack", "any", *arguments])

    assert result.exit_code == 2
    assert message in result.output
