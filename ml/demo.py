"""`mlops demo`: the whole lifecycle on the embedded emulator, no cloud, no Docker, no CLI.

1. sandbox up: the `local` stack deployed into moto's server by the same Pulumi program;
2. pipeline: push and validate data, train, evaluate, register, deploy (model v1 serves);
3. traffic to the endpoint, then traffic whose features have drifted;
4. monitoring reads the captured traffic, detects the drift, publishes the metrics and
   queues one retraining request;
5. retraining consumes it: the world has changed, so fresh data is pushed, a model is
   trained on it, beats the champion on the same holdout, and is promoted (model v2);
6. a summary and the report paths.

It works in a scratch copy of the project (`.mlops/demo/`), so the stack files in the
checkout are never edited by the promotions, and it tears the sandbox down at the end
unless `keep` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STACK = "local"


@dataclass
class DemoSummary:
    root: Path
    emulator_url: str = ""
    stages: list[tuple[str, str, float]] = field(default_factory=list)
    first_package: str = ""
    second_package: str = ""
    dataset_versions: list[str] = field(default_factory=list)
    requests_sent: int = 0
    feature_drift: float | None = None
    drift_threshold: float = 0.0
    drifted_features: tuple[str, ...] = ()
    retraining_requests: int = 0
    report: Path | None = None
    serving_url: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "emulator_url": self.emulator_url,
            "stages": [{"stage": s, "result": r, "seconds": t} for s, r, t in self.stages],
            "first_package": self.first_package,
            "second_package": self.second_package,
            "dataset_versions": self.dataset_versions,
            "requests_sent": self.requests_sent,
            "feature_drift": self.feature_drift,
            "drift_threshold": self.drift_threshold,
            "drifted_features": list(self.drifted_features),
            "retraining_requests": self.retraining_requests,
            "report": str(self.report) if self.report else None,
            "serving_url": self.serving_url,
        }


def prepare_project(source: Path, root: Path) -> Path:
    """A scratch copy of Pulumi.yaml and stacks/, where promotions may edit stack files."""
    if root.exists():
        shutil.rmtree(root)
    (root / "stacks").mkdir(parents=True)
    shutil.copy(source / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copy(source / "stacks" / f"Pulumi.{STACK}.yaml", root / "stacks")
    return root


def run_demo(
    *,
    source: Path,
    root: Path,
    endpoint: str | None = None,
    keep: bool = False,
    rows: int = 4000,
    traffic: int = 400,
    on_stage: Callable[[str, str], None] = lambda stage, text: None,
) -> DemoSummary:
    """Run the demo in `root` (a scratch project); returns what each stage produced."""
    prepare_project(source, root)
    previous_env = os.environ.get("MLOPS_PROJECT_DIR")
    os.environ["MLOPS_PROJECT_DIR"] = str(root)  # every step, and child processes, use it
    summary = DemoSummary(root=root)
    try:
        _stages(
            summary, root=root, endpoint=endpoint, rows=rows, traffic=traffic, on_stage=on_stage
        )
    finally:
        if not keep:
            _teardown(root)
        if previous_env is None:
            os.environ.pop("MLOPS_PROJECT_DIR", None)
        else:
            os.environ["MLOPS_PROJECT_DIR"] = previous_env
    return summary


class _Demo:
    """The stages, in order; each returns one line for the summary."""

    def __init__(self, summary: DemoSummary, root: Path, endpoint: str | None, rows: int,
                 traffic: int) -> None:  # fmt: skip
        self.summary, self.root, self.endpoint = summary, root, endpoint
        self.rows, self.traffic = rows, traffic
        self.data_dir = root / "data"
        self.drift_start = datetime.now(UTC)
        self.handle: Any = None

    def stages(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("sandbox up", self.up),
            ("pipeline (model v1)", self.first_pipeline),
            ("traffic", self.normal_traffic),
            ("drifted traffic", self.drifted_traffic),
            ("monitoring", self.monitor),
            ("monitoring again", self.monitor_again),
            ("retraining", self.retrain),
        ]

    def up(self) -> str:
        from infra.sandbox import sandbox

        result = sandbox.up(STACK, root=self.root, endpoint=self.endpoint)
        self.summary.emulator_url = result.emulator_url
        self.data_dir.mkdir(exist_ok=True)
        return f"{result.report.summary()} at {result.emulator_url}"

    def first_pipeline(self) -> str:
        from ml.data.reference import make_churn
        from ml.pipeline import run_pipeline
        from ml.stack import open_stack

        path = self.data_dir / "churn-v1.csv"
        make_churn(self.rows, seed=1).to_csv(path, index=False)
        run = run_pipeline(STACK, data=path, root=self.root, capture_flush_seconds=1.0)
        self.summary.dataset_versions.append(run.steps["data"]["ref"])
        self.summary.first_package = run.steps["register"]["package"]
        self.summary.serving_url = run.steps["deploy"]["url"] or ""
        self.handle = open_stack(STACK, self.root)
        return f"{run.status}: {self.summary.first_package}"

    def normal_traffic(self) -> str:
        from ml.data.reference import make_churn

        frame = make_churn(self.traffic, seed=2).drop(columns=list(_NOT_FEATURES), errors="ignore")
        self.summary.requests_sent += _send(self.summary.serving_url, frame)
        return f"{self.traffic} rows of today's traffic"

    def drifted_traffic(self) -> str:
        from ml.data.reference import make_churn

        self.drift_start = datetime.now(UTC)
        frame = make_churn(self.traffic, seed=3, drift=1.0)
        frame = frame.drop(columns=list(_NOT_FEATURES), errors="ignore")
        self.summary.requests_sent += _send(self.summary.serving_url, frame)
        time.sleep(2.5)  # the local endpoint flushes its capture buffer every second
        return f"{self.traffic} rows with drifted features"

    def _monitor(self) -> Any:
        from ml.monitor import Window, deployed_model, run_monitoring

        end = datetime.now(UTC) + timedelta(seconds=5)
        window = Window(self.drift_start - timedelta(seconds=1), end)
        return run_monitoring(self.handle, deployed_model(self.handle), window)

    def monitor(self) -> str:
        from ml.monitor import write_report

        run = self._monitor()
        result = run.result
        self.summary.feature_drift = result.feature_drift
        self.summary.drift_threshold = self.handle.outputs.drift_threshold
        self.summary.drifted_features = result.drift.drifted_features if result.drift else ()
        self.summary.report = write_report(result, self.root / "reports" / "monitoring.html")
        queued = run.retraining is not None and run.retraining.sent
        self.summary.retraining_requests += int(queued)
        drift = "n/a" if result.feature_drift is None else f"{result.feature_drift:.2f}"
        request = "1 retraining request queued" if queued else "no retraining request"
        return (
            f"{result.rows} captured rows, feature drift {drift} "
            f"(threshold {self.summary.drift_threshold}), {request}"
        )

    def monitor_again(self) -> str:
        run = self._monitor()
        queued = run.retraining is not None and run.retraining.sent
        self.summary.retraining_requests += int(queued)
        return "second run: " + ("queued another request" if queued else "deduplicated")

    def retrain(self) -> str:
        from ml.data import push
        from ml.data.reference import CHURN_SCHEMA, make_churn
        from ml.registry import champion
        from ml.retrain import consume, default_pipeline

        path = self.data_dir / "churn-v2.csv"
        make_churn(self.rows, seed=4, drift=1.0).to_csv(path, index=False)
        version = push(self.handle, path, "churn", CHURN_SCHEMA)
        self.summary.dataset_versions.append(f"{version.dataset}@{version.version}")
        # The same pipeline `mlops retrain --consume` runs: ml.pipeline.run_retraining.
        consumed = consume(self.handle, default_pipeline(), max_messages=5, wait_seconds=1)
        current = champion(self.handle)
        self.summary.second_package = current.arn if current else ""
        handled = consumed.count("succeeded")
        return f"{handled} request(s) handled; champion {self.summary.second_package}"


_NOT_FEATURES = ("churned", "customer_id")


def _stages(
    summary: DemoSummary,
    *,
    root: Path,
    endpoint: str | None,
    rows: int,
    traffic: int,
    on_stage: Callable[[str, str], None],
) -> None:
    demo = _Demo(summary, root, endpoint, rows, traffic)
    for name, action in demo.stages():
        started = time.monotonic()
        text = action()
        seconds = round(time.monotonic() - started, 1)
        summary.stages.append((name, text, seconds))
        on_stage(name, f"{text} ({seconds} s)")


def _send(url: str, frame: Any, batch: int = 50) -> int:
    """Post the frame to the endpoint in JSON batches; returns the rows sent."""
    sent = 0
    records = json.loads(frame.to_json(orient="records"))
    for start in range(0, len(records), batch):
        body = json.dumps({"instances": records[start : start + batch]}).encode()
        request = urllib.request.Request(
            f"{url}/invocations",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Amzn-SageMaker-Inference-Id": uuid.uuid4().hex,
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            response.read()
        sent += len(records[start : start + batch])
    return sent


def _teardown(root: Path) -> None:
    from infra.sandbox import sandbox
    from ml.deploy import stop_serving

    stop_serving(STACK, root)
    try:
        sandbox.down(STACK, root=root)
    except Exception:  # the demo's own failure is the one to show, not the cleanup's
        import logging

        logging.getLogger(__name__).exception("tearing the demo sandbox down failed")
