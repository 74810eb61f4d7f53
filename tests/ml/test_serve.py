"""The inference server over HTTP: SageMaker's /ping and /invocations contract, Prometheus
metrics, and data capture written to the emulator's S3 with SSE-KMS."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.sandbox.emulator import Emulator
from ml.serve import CaptureSettings, CaptureWriter, ServedModel
from ml.serve.app import create_app
from ml.serve.metrics import ServingMetrics
from tests.integration.conftest import emulator  # noqa: F401
from tests.ml.test_serve_model import (
    build_model_dir,
    expected_probabilities,
    make_outputs,
    sample_rows,
)

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CSV_BODY = b"25,31000,basic\n61,72000,team\n44,50500,pro\n"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port in a thread; stop it (lifespan
    shutdown included) on exit."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server thread died while starting"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def call(
    url: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url + path, data=body, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_ready(url: str) -> None:
    while call(url, "/ping")[0] != 200:
        time.sleep(0.01)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return build_model_dir(tmp_path / "model")


@pytest.fixture
def server(model_dir: Path) -> Iterator[str]:
    with serving(create_app(lambda: ServedModel.load(model_dir))) as url:
        wait_ready(url)
        yield url


def invoke(
    url: str, body: bytes, content_type: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    return call(url, "/invocations", body, {"Content-Type": content_type, **headers})


# --- /ping ------------------------------------------------------------------------------


def test_ping_is_503_until_the_model_is_loaded(model_dir: Path) -> None:
    release = threading.Event()

    def slow_loader() -> ServedModel:
        release.wait()
        return ServedModel.load(model_dir)

    with serving(create_app(slow_loader)) as url:
        loading = call(url, "/ping")
        refused = invoke(url, CSV_BODY, "text/csv")
        release.set()
        wait_ready(url)

    assert (loading[0], loading[2]) == (503, b"model loading")
    assert refused[0] == 503


def test_ping_reports_a_model_that_failed_to_load(tmp_path: Path) -> None:
    failures: list[BaseException] = []
    app = create_app(lambda: ServedModel.load(tmp_path / "empty"), on_load_error=failures.append)

    with serving(app) as url:
        while not failures:
            time.sleep(0.01)
        status, _, body = call(url, "/ping")

    assert status == 503
    assert b"model failed to load: ModelLoadError" in body


# --- /invocations -----------------------------------------------------------------------


def test_csv_rows_get_the_pipelines_probabilities(server: str, model_dir: Path) -> None:
    status, headers, body = invoke(
        server, CSV_BODY, "text/csv", **{"X-Amzn-SageMaker-Inference-Id": "order-17"}
    )

    assert status == 200
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["x-amzn-sagemaker-inference-id"] == "order-17"
    assert headers["x-amzn-sagemaker-custom-attributes"].startswith("model_latency_ms=")
    got = [float(line) for line in body.decode().splitlines()]
    np.testing.assert_allclose(got, expected_probabilities(model_dir, sample_rows()), atol=1e-12)


def test_json_records_get_json_predictions(server: str, model_dir: Path) -> None:
    records = sample_rows().to_dict(orient="records")

    wrapped = invoke(server, json.dumps({"instances": records}).encode(), "application/json")
    bare = invoke(server, json.dumps(records).encode(), "application/json")

    assert wrapped[0] == bare[0] == 200
    assert wrapped[1]["content-type"] == "application/json"
    predictions = json.loads(wrapped[2])["predictions"]
    assert json.loads(bare[2])["predictions"] == predictions
    np.testing.assert_allclose(
        predictions, expected_probabilities(model_dir, sample_rows()), atol=1e-12
    )


def test_accept_chooses_the_response_type(server: str) -> None:
    records = json.dumps(sample_rows().to_dict(orient="records")).encode()

    status, headers, body = invoke(server, records, "application/json", Accept="text/csv")

    assert (status, headers["content-type"]) == (200, "text/csv; charset=utf-8")
    assert len(body.decode().splitlines()) == 3


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"25,31000,basic\n61,72000\n", "text/csv", 400, "row 2 has 2 values, expected 3"),
        (b"25,lots,basic\n", "text/csv", 400, "row 1, feature 'income': 'lots' is not a finite"),
        (b'{"instances": [{"age": 1}]}', "application/json", 400, "lacks ['income', 'plan']"),
        (b"25,31000,basic\n", "application/x-npy", 415, "Content-Type 'application/x-npy'"),
    ],
)
def test_bad_payloads_get_a_4xx_that_says_what_is_wrong(
    server: str, body: bytes, content_type: str, status: int, message: str
) -> None:
    got, headers, text = invoke(server, body, content_type)

    assert got == status
    assert headers["content-type"].startswith("text/plain")
    assert message in text.decode()


# --- /metrics ---------------------------------------------------------------------------


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, body = call(url, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_requests_latency_and_predictions(model_dir: Path) -> None:
    metrics = ServingMetrics()
    with serving(create_app(lambda: ServedModel.load(model_dir), metrics=metrics)) as url:
        wait_ready(url)
        invoke(url, CSV_BODY, "text/csv")
        invoke(url, CSV_BODY, "text/csv")
        invoke(url, b"1,2\n", "text/csv")
        found = samples(url)

    ok = ("mlops_serving_requests_total", (("route", "/invocations"), ("status", "200")))
    bad = ("mlops_serving_requests_total", (("route", "/invocations"), ("status", "400")))
    assert (found[ok], found[bad]) == (2.0, 1.0)
    assert found[("mlops_serving_invocation_seconds_count", ())] == 3.0
    assert found[("mlops_serving_prediction_count", ())] == 6.0
    assert found[("mlops_serving_prediction_bucket", (("le", "1.0"),))] == 6.0
    assert found[("mlops_serving_rows_total", ())] == 6.0
    assert found[("mlops_serving_model_loaded", ())] == 1.0


# --- data capture -----------------------------------------------------------------------


@pytest.mark.emulator
def test_captured_requests_land_in_s3_in_sagemakers_format_with_sse_kms(
    emulator: Emulator,  # noqa: F811
    model_dir: Path,
) -> None:
    s3 = emulator.client("s3")
    key_arn = emulator.client("kms").create_key()["KeyMetadata"]["Arn"]
    bucket = f"capture-{uuid.uuid4().hex}"  # the session's emulator is shared, never reset
    outputs = make_outputs(data_kms_key_arn=key_arn, capture_bucket=bucket)
    s3.create_bucket(Bucket=outputs.capture_bucket)
    settings = CaptureSettings.for_stack(outputs)
    capture = CaptureWriter(s3, settings)
    records = json.dumps(sample_rows().to_dict(orient="records")).encode()

    with serving(create_app(lambda: ServedModel.load(model_dir), capture=capture)) as url:
        wait_ready(url)
        csv_answer = invoke(url, CSV_BODY, "text/csv", **{"X-Amzn-SageMaker-Inference-Id": "a-1"})
        json_answer = invoke(url, records, "application/json")
        invoke(url, b"not,enough\n", "text/csv")  # refused: not captured
        pending_while_serving = capture.pending
    # leaving the block stops the server: its shutdown writes the buffer

    assert pending_while_serving == 2
    # One object per hour of inferenceTime: one, or two if the requests straddled an hour.
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    lines: list[tuple[str, dict[str, Any]]] = []
    for key in keys:
        assert key.startswith(f"{outputs.endpoint_name}/{outputs.endpoint_name}/primary/")
        assert key.endswith(".jsonl")
        head = s3.head_object(Bucket=bucket, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        lines += [(key, json.loads(line)) for line in text.splitlines()]
    for key, line in lines:
        written = datetime.strptime(line["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
        assert key.startswith(f"{settings.prefix}{written:%Y/%m/%d/%H}/")
    first, second = (line for _, line in lines)
    assert first["eventVersion"] == "0"
    assert first["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": CSV_BODY.decode(),
        "encoding": "CSV",
    }
    assert first["captureData"]["endpointOutput"] == {
        "observedContentType": "text/csv; charset=utf-8",
        "mode": "OUTPUT",
        "data": csv_answer[2].decode(),
        "encoding": "CSV",
    }
    assert first["eventMetadata"]["inferenceId"] == "a-1"
    assert set(first["eventMetadata"]) == {
        "eventId",
        "inferenceId",
        "inferenceTime",
        "customAttributes",
    }
    assert second["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert second["captureData"]["endpointOutput"]["data"] == json_answer[2].decode()
    assert second["eventMetadata"]["inferenceId"] == json_answer[1]["x-amzn-sagemaker-inference-id"]
