"""`mlops monitor`: measure the endpoint's captured traffic against the model's baseline,
publish the quality metrics, and queue a retraining request when a threshold is crossed."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ml.cli.output import BadInput, console, console_err, exits

STACK = typer.Option("--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")
DEFAULT_MIN_ROWS = 100  # ml.monitor.DEFAULT_MIN_ROWS, not imported here to keep --help fast
_SKIPPED_SHOWN = 20


@exits
def monitor(
    *,
    stack: Annotated[str, STACK],
    since: Annotated[str, typer.Option("--since", help="Window length: 30m, 1h, 7d...")] = "1h",
    until: Annotated[
        str | None,
        typer.Option("--until", help="Window end, ISO 8601 (UTC if no offset); default: now."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            "--labels", help="Ground truth: CSV/JSONL of inferenceId,label (path or s3://)."
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write an HTML report here (history kept beside it)."),
    ] = None,
    prometheus_file: Annotated[
        Path | None,
        typer.Option(
            "--prometheus-file", help="Write the metrics for node-exporter's textfile collector."
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="drift_baseline.json or model.tar.gz (path or s3://); default: the "
            "endpoint's model.",
        ),
    ] = None,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Override the model version.")
    ] = None,
    dataset_version: Annotated[
        str | None, typer.Option("--dataset-version", help="Override the dataset version.")
    ] = None,
    min_rows: Annotated[
        int,
        typer.Option(
            "--min-rows", min=1, help="Fewest rows (labelled rows for accuracy) to act on."
        ),
    ] = DEFAULT_MIN_ROWS,
    decision_threshold: Annotated[
        float,
        typer.Option(
            "--decision-threshold", help="Score at or above which a prediction is class 1."
        ),
    ] = 0.5,
    positive_label: Annotated[
        str | None,
        typer.Option("--positive-label", help="The label a score's class 1 stands for (e.g. yes)."),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Put the metrics to CloudWatch.")
    ] = True,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain/--no-retrain", help="Queue a retraining request on a crossed threshold."
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Drift, prediction distribution, accuracy and latency of the endpoint's recent traffic."""
    from ml.monitor import (
        ModelContext,
        Window,
        deployed_model,
        load_baseline,
        read_labels,
        run_monitoring,
        write_report,
        write_textfile,
    )

    with _bad_input():
        window = Window.last(since, _when(until))  # bad --since/--until before the stack
        handle = _open(stack)
        # Everything the user gave is read and checked before anything is published.
        truth = read_labels(labels, _read(handle, labels)) if labels else None
        model = (
            ModelContext(load_baseline(handle, baseline), source=baseline)
            if baseline
            else deployed_model(handle)
        )
        model = ModelContext(
            model.baseline,
            model_version or model.model_version,
            dataset_version or model.dataset_version,
            model.source,
        )
        for path in (report, prometheus_file):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        run = run_monitoring(
            handle,
            model,
            window,
            labels=truth,
            min_rows=min_rows,
            decision_threshold=decision_threshold,
            positive_label=positive_label,
            publish=publish,
            trigger=retrain,
        )
    sent = run.retraining.request if run.retraining and run.retraining.sent else None
    reason = sent.reason if sent is not None else None
    if report is not None:
        write_report(run.result, report)
    if prometheus_file is not None:
        write_textfile(run.result, prometheus_file, reason)
    if as_json:
        console.out(json.dumps(run.to_dict(), indent=2, default=str), highlight=False)
        return
    _print(run)
    if report is not None:
        console_err.print(f"report: {report}", highlight=False)
    if prometheus_file is not None:
        console_err.print(f"prometheus: {prometheus_file}", highlight=False)


def _open(stack: str) -> Any:
    from ml.stack import open_stack

    return open_stack(stack)


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"--until {text!r} is not an ISO 8601 time; use e.g. 2024-05-01T12:00:00Z"
        ) from None


def _read(handle: Any, location: str) -> str | None:
    """An s3:// labels file's text (local files are read by read_labels)."""
    if not location.startswith("s3://"):
        return None
    bucket, _, key = location.removeprefix("s3://").partition("/")
    body: bytes = handle.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body.decode("utf-8")


@contextmanager
def _bad_input() -> Iterator[None]:
    """The errors a user can fix (stack, window, files, baseline) as exit 2 with the fix."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ml.drift import DriftError
    from ml.monitor import LabelsError, ModelContextError, WindowError
    from ml.monitor.capture_store import CaptureLocationError
    from ml.monitor.quality import StackPrefixError
    from ml.stack import StackNotDeployed

    try:
        yield
    except (
        StackNotDeployed,
        WindowError,
        LabelsError,
        ModelContextError,
        CaptureLocationError,
        StackPrefixError,
        DriftError,
        FileNotFoundError,
    ) as exc:
        raise BadInput(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise BadInput(
            f"AWS call failed: {exc}. Fix: check the stack is deployed and the credentials "
            "may read its capture bucket and write its metrics and queue"
        ) from None


def _print(run: Any) -> None:
    result = run.result
    title = (
        f"{result.stack}: {result.window.to_dict()['start']} to {result.window.to_dict()['end']}"
    )
    if result.drift is not None:
        table = Table(title=f"Feature drift, {title}")
        for column in ("Feature", "Statistic", "Value", "Threshold", "Drifted", "Missing"):
            table.add_column(column)
        for item in result.drift.features:
            table.add_row(
                item.feature,
                item.statistic,
                _fmt(item.value),
                f"{item.threshold:g}",
                "[red]yes[/]" if item.drifted else "no",
                _fmt(item.missing_rate),
            )
        console.print(table)
    console.print(_summary(run))
    for line in result.skipped[:_SKIPPED_SHOWN]:
        console_err.print(f"[yellow]skipped[/] {line}", highlight=False, markup=True)
    if len(result.skipped) > _SKIPPED_SHOWN:
        console_err.print(f"... and {len(result.skipped) - _SKIPPED_SHOWN} more skipped lines")
    if result.rows == 0:
        console_err.print(
            "[yellow]warning:[/] no captured rows in the window: nothing was measured or "
            "published (is capture enabled, and did the endpoint get traffic?)"
        )


def _summary(run: Any) -> Table:
    result = run.result
    thresholds = result.thresholds
    table = Table(title="Summary")
    for column in ("Metric", "Value", "Threshold", "Status"):
        table.add_column(column)
    table.add_row(
        "FeatureDrift",
        _fmt(result.feature_drift),
        f"> {thresholds.drift_threshold:g}",
        _status("feature_drift", result),
    )
    table.add_row(
        "PredictionDrift",
        _fmt(result.prediction_drift),
        f"> {thresholds.prediction_drift_threshold:g}",
        _status("prediction_drift", result),
    )
    accuracy = result.accuracy
    table.add_row(
        "Accuracy",
        "n/a" if accuracy is None else _fmt(accuracy.accuracy),
        f"< {thresholds.min_accuracy:g}",
        "no labels"
        if accuracy is None
        else f"{_status('accuracy', result)}; {accuracy.matched} labelled, "
        f"{accuracy.unlabelled_rows} unlabelled rows, {accuracy.unmatched_labels} unmatched labels",
    )
    latency = result.latency
    table.add_row(
        "Latency p50 / p99 (ms)",
        "n/a" if latency is None else f"{latency.p50_ms:.1f} / {latency.p99_ms:.1f}",
        "",
        "not recorded" if latency is None else f"from {latency.source}",
    )
    table.add_row(
        "Rows",
        str(result.rows),
        f">= {result.min_rows}",
        f"{result.records} requests, {result.files} files, {result.outside_window} outside window",
    )
    table.add_row("Skipped lines", str(len(result.skipped)), "", "")
    table.add_row("Published", ", ".join(run.published) or "nothing", "", "")
    outcome = run.retraining
    table.add_row(
        "Retraining",
        "off" if outcome is None else outcome.status,
        "",
        "" if outcome is None or outcome.request is None else outcome.request.key,
    )
    return table


def _status(reason: str, result: Any) -> str:
    if reason in result.crossed():
        return "[red]crossed[/]"
    enough = result.accuracy_sufficient if reason == "accuracy" else result.sufficient
    return "ok" if enough else "too few rows to act on"


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.4g}"
