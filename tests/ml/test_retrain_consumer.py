"""Consuming retraining requests against moto's SQS and S3 over HTTP: delete after success,
keep for a retry after failure, then the dead-letter queue; and the CLI's exit codes."""

from __future__ import annotations

import json
import sys
import types
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.retraining import request_transformer
from infra.sandbox.emulator import Emulator
from ml.cli.main import app
from ml.monitor.quality import stack_prefix
from ml.retrain import Ledger, RetrainingRequest, consume
from ml.stack import StackHandle
from tests.integration.conftest import emulator  # noqa: F401  (the session's moto server)
from tests.ml.test_monitor_support import deploy_stack, queued

pytestmark = pytest.mark.emulator


@pytest.fixture
def stack(emulator: Emulator) -> StackHandle:  # noqa: F811
    return deploy_stack(emulator)


def _send(handle: StackHandle, body: str) -> str:
    answer = handle.client("sqs").send_message(
        QueueUrl=handle.outputs.retraining_queue_url, MessageBody=body
    )
    return str(answer["MessageId"])


def _monitor_request(handle: StackHandle) -> RetrainingRequest:
    return RetrainingRequest.from_monitor(
        reasons=("feature_drift",),
        stack=stack_prefix(handle.outputs),
        time=datetime.fromisoformat("2024-05-01T10:30:00Z"),
        model_version="v1",
        window_end=datetime.fromisoformat("2024-05-01T11:00:00Z"),
    )


def _schedule_body(handle: StackHandle) -> str:
    _, template = request_transformer("schedule", stack_prefix(handle.outputs))
    return template.replace("<time>", "2024-05-01T03:00:00Z")


class Pipeline:
    """Records what it was asked to retrain; fails for the reasons it is told to."""

    def __init__(self, fail_for: set[str] | None = None) -> None:
        self.fail_for = fail_for or set()
        self.calls: list[RetrainingRequest] = []

    def __call__(self, request: RetrainingRequest, handle: StackHandle) -> None:
        self.calls.append(request)
        if request.reason in self.fail_for:
            raise RuntimeError("training job failed")


def _attributes(handle: StackHandle, url: str | None = None) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    answer = handle.client("sqs").get_queue_attributes(
        QueueUrl=url or handle.outputs.retraining_queue_url, AttributeNames=names
    )
    return {name: int(value) for name, value in answer["Attributes"].items()}


def test_success_deletes_and_failure_keeps_the_message(stack: StackHandle) -> None:
    monitor = _monitor_request(stack)
    _send(stack, monitor.to_json())
    schedule_id = _send(stack, _schedule_body(stack))
    pipeline = Pipeline(fail_for={"schedule"})

    summary = consume(stack, pipeline, max_messages=10, wait_seconds=0)

    assert sorted(r.reason for r in pipeline.calls) == ["feature_drift", "schedule"]
    assert (summary.count("succeeded"), summary.count("failed"), summary.ok) == (1, 1, False)
    failed = next(item for item in summary.handled if item.outcome == "failed")
    assert failed.message_id == schedule_id and "training job failed" in failed.detail
    # The failed request is in flight until its visibility timeout, then back for a retry.
    assert _attributes(stack) == {
        "ApproximateNumberOfMessages": 0,
        "ApproximateNumberOfMessagesNotVisible": 1,
    }
    ledger = Ledger(stack.client("s3"), stack.outputs.models_bucket)
    assert ledger.consumed(monitor.key)
    assert not ledger.consumed(failed.key or "")


def test_a_failed_request_is_retried_then_dead_lettered(emulator: Emulator) -> None:  # noqa: F811
    handle = deploy_stack(emulator, max_receive_count=2)
    _send(handle, _schedule_body(handle))
    pipeline = Pipeline(fail_for={"schedule"})

    first = consume(handle, pipeline, wait_seconds=0, retry_after=0)
    second = consume(handle, pipeline, wait_seconds=0, retry_after=0)
    third = consume(handle, pipeline, wait_seconds=0, retry_after=0)

    assert [s.count("failed") for s in (first, second, third)] == [1, 1, 0]
    assert len(pipeline.calls) == 2  # two attempts, then SQS moved it to the DLQ
    dead = queued(handle, handle.dlq_url)  # type: ignore[attr-defined]
    assert len(dead) == 1 and json.loads(dead[0]["Body"])["reason"] == "schedule"


def test_a_consumed_key_is_deleted_without_retraining_again(stack: StackHandle) -> None:
    request = _monitor_request(stack)
    _send(stack, request.to_json())
    pipeline = Pipeline()
    assert consume(stack, pipeline, wait_seconds=0).count("succeeded") == 1

    _send(stack, request.to_json())  # delivered again (at-least-once)
    summary = consume(stack, pipeline, wait_seconds=0)

    assert summary.count("duplicate") == 1 and len(pipeline.calls) == 1
    assert queued(stack) == []


def test_a_message_that_is_not_a_request_stays_for_the_dlq(stack: StackHandle) -> None:
    _send(stack, '{"hello": "world"}')
    other_stack = _schedule_body(stack).replace(stack_prefix(stack.outputs), "someone-else")
    _send(stack, other_stack)
    pipeline = Pipeline()

    summary = consume(stack, pipeline, max_messages=5, wait_seconds=0)

    assert summary.count("malformed") == 2 and pipeline.calls == []
    details = " ".join(item.detail for item in summary.handled)
    assert "field(s) hello" in details and "'someone-else'" in details
    assert _attributes(stack)["ApproximateNumberOfMessagesNotVisible"] == 2


def test_max_limits_how_many_requests_are_handled(stack: StackHandle) -> None:
    for _ in range(3):
        _send(stack, _schedule_body(stack).replace("03:00", "04:00"))
    pipeline = Pipeline()
    summary = consume(stack, pipeline, max_messages=1, wait_seconds=0)
    assert len(summary.handled) == 1 and len(pipeline.calls) == 1


# --- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(
    stack: StackHandle,
    emulator: Emulator,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> StackHandle:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack.outputs.model_dump(by_alias=True)))
    monkeypatch.setenv("MLOPS_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("MLOPS_STACK_OUTPUTS", str(outputs))
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    return stack


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["retrain", "--stack", "test", *args])


def test_cli_needs_consume() -> None:
    result = _invoke()
    assert result.exit_code == 2 and "pass --consume" in result.stderr


def test_cli_without_the_pipeline_exits_2_and_keeps_the_request(
    cli_env: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    _send(cli_env, _schedule_body(cli_env))
    monkeypatch.setitem(sys.modules, "ml.pipeline", None)  # as if it were not installed

    result = _invoke("--consume", "--wait", "0")

    assert result.exit_code == 2
    assert "training pipeline is not installed" in result.stderr
    assert len(queued(cli_env)) == 1


def test_cli_runs_ml_pipeline_and_reports_failures_with_exit_1(
    cli_env: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = Pipeline(fail_for={"schedule"})
    module = types.ModuleType("ml.pipeline")
    module.run_retraining = pipeline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ml.pipeline", module)
    _send(cli_env, _monitor_request(cli_env).to_json())

    ok = _invoke("--consume", "--wait", "0", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["succeeded"] == 1

    _send(cli_env, _schedule_body(cli_env))
    failed = _invoke("--consume", "--wait", "0", "--max", "5")
    assert failed.exit_code == 1
    assert "stay on the queue" in failed.stderr
    assert [r.reason for r in pipeline.calls] == ["feature_drift", "schedule"]


def test_cli_for_a_stack_without_a_queue_exits_2(
    cli_env: StackHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = tmp_path / "no-queue.json"
    data = cli_env.outputs.model_dump(by_alias=True) | {"retrainingQueueUrl": ""}
    outputs.write_text(json.dumps(data))
    monkeypatch.setenv("MLOPS_STACK_OUTPUTS", str(outputs))
    monkeypatch.setitem(sys.modules, "ml.pipeline", types.ModuleType("ml.pipeline"))
    module = sys.modules["ml.pipeline"]
    module.run_retraining = Pipeline()  # type: ignore[attr-defined]

    result = _invoke("--consume", "--wait", "0")

    assert result.exit_code == 2 and "no retraining queue" in result.stderr
