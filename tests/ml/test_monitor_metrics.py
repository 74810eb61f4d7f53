"""Monitoring figures without AWS: drift on the alarm's scale, accuracy from labels,
latency, the Prometheus exposition and the HTML report."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from infra.outputs import StackOutputs
from ml.cli import monitor_cmd
from ml.monitor import (
    DEFAULT_MIN_ROWS,
    LabelsError,
    MonitoringResult,
    QualityThresholds,
    Window,
    build_batch,
    drift_thresholds,
    evaluate,
    history_path,
    parse_line,
    prometheus_text,
    read_capture_files,
    read_labels,
    stack_prefix,
    write_report,
    write_textfile,
)
from ml.monitor.latency import from_capture, from_cloudwatch
from ml.monitor.quality import MAX_SEVERITY, StackPrefixError
from tests.ml.test_monitor_support import (
    ENDPOINT,
    FEATURES,
    FIXTURES,
    PREFIX,
    WINDOW_END,
    WINDOW_START,
    baseline,
    capture_lines,
    make_outputs,
    population,
)

WINDOW = Window(WINDOW_START, WINDOW_END)
QUALITY = QualityThresholds(drift_threshold=0.2, prediction_drift_threshold=0.2, min_accuracy=0.8)
TOLERANCE = 1e-9


def _result(frame_seed: int, *, shifted: bool, rows: int = 600, **kwargs: Any) -> MonitoringResult:
    model = baseline()
    lines = capture_lines(population(rows, frame_seed, shifted=shifted), WINDOW_START)
    records = [
        (parse_line(line, model.features, model.prediction or "churn"), "primary") for line in lines
    ]
    batch = build_batch(records, model, WINDOW, ["generated"], [])
    return evaluate(batch, model, QUALITY, stack=PREFIX, endpoint=ENDPOINT, window=WINDOW, **kwargs)


def _fixtures(**kwargs: Any) -> MonitoringResult:
    model = baseline()
    batch = read_capture_files(sorted(FIXTURES.glob("*.jsonl")), model, WINDOW)
    return evaluate(batch, model, QUALITY, stack=PREFIX, endpoint=ENDPOINT, window=WINDOW, **kwargs)


# --- drift on the alarm's scale ---------------------------------------------------------------


def test_stable_traffic_stays_below_every_threshold() -> None:
    result = _result(11, shifted=False)
    assert result.rows == 600
    assert result.drift is not None and result.drift.drifted_features == ()
    metrics = result.metrics()
    assert set(metrics) == {"FeatureDrift", "PredictionDrift"}
    assert metrics["FeatureDrift"] < QUALITY.drift_threshold
    assert metrics["PredictionDrift"] < QUALITY.prediction_drift_threshold
    assert result.crossed() == ()


def test_shifted_traffic_crosses_feature_and_prediction_drift() -> None:
    result = _result(11, shifted=True)
    assert result.drift is not None
    assert set(result.drift.drifted_features) == set(FEATURES)
    assert result.crossed() == ("feature_drift", "prediction_drift")
    # The published value is the worst severity on the PSI scale: for PSI features, the PSI.
    worst = max(result.drift.features, key=lambda f: f.severity)
    expected = min(worst.severity, MAX_SEVERITY) * QUALITY.drift_threshold
    assert result.metrics()["FeatureDrift"] == pytest.approx(expected, abs=TOLERANCE)
    if worst.statistic == "psi":
        assert result.metrics()["FeatureDrift"] == pytest.approx(worst.value, abs=TOLERANCE)
    prediction = result.drift.prediction
    assert prediction is not None and prediction.statistic == "psi"
    assert result.metrics()["PredictionDrift"] == pytest.approx(prediction.value, abs=TOLERANCE)


def test_stack_thresholds_drive_the_statistics() -> None:
    model = baseline()
    thresholds = drift_thresholds(model, QualityThresholds(0.35, 0.15, 0.9))
    statistic, limit = thresholds.resolve("age", model.columns["age"].kind)
    assert (statistic.name, limit) == ("psi", 0.35)
    statistic, limit = thresholds.resolve("churn", model.columns["churn"].kind)
    assert (statistic.name, limit) == ("psi", 0.15)


def test_too_few_rows_are_shown_but_not_published() -> None:
    result = _fixtures(labels=read_labels(FIXTURES / "labels.csv"))
    assert result.rows == 13 < DEFAULT_MIN_ROWS
    assert result.feature_drift is not None and result.accuracy is not None
    assert result.metrics() == {} and result.crossed() == ()


def test_input_only_capture_has_no_prediction_drift() -> None:
    model = baseline()
    lines = [
        json.dumps(
            {
                **json.loads(line),
                "captureData": {"endpointInput": json.loads(line)["captureData"]["endpointInput"]},
            }
        )
        for line in capture_lines(population(200, 3), WINDOW_START)
    ]
    records = [(parse_line(line, model.features, "churn"), "primary") for line in lines]
    batch = build_batch(records, model, WINDOW, [], [])
    result = evaluate(batch, model, QUALITY, stack=PREFIX, endpoint=ENDPOINT, window=WINDOW)
    assert result.prediction_drift is None and "PredictionDrift" not in result.metrics()
    assert result.prediction_distribution is None
    assert "FeatureDrift" in result.metrics()


def test_empty_window_measures_nothing() -> None:
    model = baseline()
    result = evaluate(
        build_batch([], model, WINDOW, [], []),
        model,
        QUALITY,
        stack=PREFIX,
        endpoint=ENDPOINT,
        window=WINDOW,
    )
    assert (result.rows, result.drift, result.metrics()) == (0, None, {})


# --- accuracy -------------------------------------------------------------------------------------


def test_accuracy_joins_labels_by_inference_id_and_row() -> None:
    result = _fixtures(labels=read_labels(FIXTURES / "labels.csv"), min_rows=1)
    assert result.accuracy is not None
    assert result.accuracy.to_dict() == {
        "accuracy": pytest.approx(4 / 6),
        "matched": 6,
        "correct": 4,
        "unlabelled_rows": 7,
        "unmatched_labels": 1,
    }
    assert result.metrics()["Accuracy"] == pytest.approx(4 / 6)
    assert "accuracy" in result.crossed()


def test_labels_in_jsonl_and_sagemaker_ground_truth_shape(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"inferenceId": "req-001", "label": 0}\n'
        '{"groundTruthData": {"data": "1", "encoding": "CSV"}, '
        '"eventMetadata": {"eventId": "req-002"}, "eventVersion": "0"}\n'
    )
    labels = read_labels(path)
    assert labels[["inferenceId", "label", "row"]].values.tolist() == [
        ["req-001", "0", 0],
        ["req-002", "1", 0],
    ]
    result = _fixtures(labels=labels, min_rows=1)
    assert result.accuracy is not None
    assert (result.accuracy.matched, result.accuracy.correct) == (2, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,label\nx,1\n", "needs columns 'inferenceId' and 'label'"),
        ("inferenceId,label\nx,1\nx,0\n", "inferenceId: multiple_fields_uniqueness"),
        ("inferenceId,label\nx,\n", "label: not_nullable fails at data row(s) 1"),
        ("inferenceId,label,row\nx,1,-1\n", "row: greater_than_or_equal_to(0)"),
    ],
)
def test_bad_labels_name_the_file_the_problem_and_the_fix(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(content)
    with pytest.raises(LabelsError) as error:
        read_labels(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_scores_are_classified_at_the_decision_threshold(tmp_path: Path) -> None:
    model = baseline()
    line = (
        '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
        '"data":"30,50000,basic\\n40,60000,pro","encoding":"CSV"},"endpointOutput":'
        '{"observedContentType":"text/csv","mode":"OUTPUT","data":"0.35\\n0.8","encoding":"CSV"}},'
        '"eventMetadata":{"eventId":"e","inferenceId":"s-1","inferenceTime":"2024-05-01T10:00:01Z"},'
        '"eventVersion":"0"}'
    )
    score_model = type(model)(
        columns={k: v for k, v in model.columns.items() if k != "churn"},
        prediction=None,
        n_rows=model.n_rows,
    )
    batch = build_batch(
        [(parse_line(line, tuple(FEATURES), "prediction"), "")], score_model, WINDOW, [], []
    )
    labels = tmp_path / "l.csv"
    labels.write_text("inferenceId,label,row\ns-1,1,0\ns-1,1,1\n")
    named = tmp_path / "named.csv"
    named.write_text("inferenceId,label,row\ns-1,no,0\ns-1,yes,1\n")
    result = evaluate(
        batch,
        score_model,
        QUALITY,
        stack=PREFIX,
        endpoint=ENDPOINT,
        window=WINDOW,
        labels=read_labels(named),
        positive_label="yes",
    )
    assert result.accuracy is not None and result.accuracy.correct == 2
    for threshold, correct in ((0.5, 1), (0.3, 2)):
        result = evaluate(
            batch,
            score_model,
            QUALITY,
            stack=PREFIX,
            endpoint=ENDPOINT,
            window=WINDOW,
            labels=read_labels(labels),
            decision_threshold=threshold,
        )
        assert result.accuracy is not None and result.accuracy.correct == correct


# --- latency --------------------------------------------------------------------------------------


class _CloudWatch:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def get_metric_statistics(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        answer = self.answers[kwargs["Dimensions"][1]["Value"]]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_latency_from_capture_attributes() -> None:
    summary = from_capture([10.0] * 99 + [200.0])
    assert summary is not None and summary.source == "capture" and summary.samples == 100
    assert summary.p50_ms == pytest.approx(10.0)
    assert summary.p99_ms == pytest.approx(10.0 + 0.01 * 190.0)
    assert from_capture([]) is None


def test_latency_from_cloudwatch_model_latency_in_microseconds() -> None:
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetMetricStatistics"
    )
    cloudwatch = _CloudWatch(
        {
            "blue": {"Datapoints": [{"ExtendedStatistics": {"p50": 8000.0, "p99": 40000.0}}]},
            "green": {"Datapoints": [{"ExtendedStatistics": {"p50": 9000.0, "p99": 30000.0}}]},
            "red": denied,
        }
    )
    summary = from_cloudwatch(cloudwatch, ENDPOINT, ["blue", "green", "red"], WINDOW)
    assert summary is not None and summary.source == "cloudwatch"
    assert (summary.p50_ms, summary.p99_ms) == (9.0, 40.0)
    call = cloudwatch.calls[0]
    assert (call["Namespace"], call["MetricName"], call["Period"]) == (
        "AWS/SageMaker",
        "ModelLatency",
        3600,
    )
    assert call["ExtendedStatistics"] == ["p50", "p99"]


def test_latency_absent_everywhere_is_none() -> None:
    empty = _CloudWatch({"primary": {"Datapoints": []}, "b": {"Datapoints": [{"Average": 1.0}]}})
    assert from_cloudwatch(empty, ENDPOINT, ["primary", "b"], WINDOW) is None
    assert from_cloudwatch(empty, ENDPOINT, [], WINDOW) is None


# --- Prometheus -----------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_prometheus_exposes_the_published_metrics(tmp_path: Path) -> None:
    result = _result(5, shifted=True, labels=None)
    text = prometheus_text(result, retraining_reason="feature_drift")
    samples = _samples(text)
    base = {("stack", PREFIX), ("endpoint_name", ENDPOINT)}
    assert samples["mlops_feature_drift", frozenset(base)] == pytest.approx(
        result.metrics()["FeatureDrift"]
    )
    assert samples["mlops_prediction_drift", frozenset(base)] == pytest.approx(
        result.metrics()["PredictionDrift"]
    )
    assert ("mlops_accuracy", frozenset(base)) not in samples  # no labels, no accuracy
    assert samples["mlops_capture_rows", frozenset(base)] == 600
    assert samples["mlops_feature_drifted", frozenset({*base, ("feature", "age")})] == 1
    assert (
        samples["mlops_retraining_requested", frozenset({*base, ("reason", "feature_drift")})] == 1
    )
    shares = {
        dict(labels)["bin"]: value
        for (name, labels), value in samples.items()
        if name == "mlops_prediction_share"
    }
    assert set(shares) == {"0", "1", "__other__"} and sum(shares.values()) == pytest.approx(1.0)

    path = write_textfile(result, tmp_path / "textfile" / "mlops_monitor.prom")
    assert _samples(path.read_text())["mlops_feature_drift", frozenset(base)] == pytest.approx(
        result.metrics()["FeatureDrift"]
    )
    assert not list(path.parent.glob("*.tmp*"))  # written atomically, nothing left over


# --- HTML report ----------------------------------------------------------------------------------


def test_report_is_self_contained_and_keeps_a_history(tmp_path: Path) -> None:
    report = tmp_path / "out" / "monitor.html"
    first = _result(5, shifted=False)
    write_report(first, report)
    later = Window(WINDOW_START + timedelta(hours=1), WINDOW_END + timedelta(hours=1))
    second = _result(6, shifted=True)
    second = type(second)(**{**second.__dict__, "window": later})
    write_report(second, report)
    write_report(second, report)  # the same window again replaces, not appends

    history = json.loads(history_path(report).read_text())
    assert [entry["window_end"] for entry in history] == [
        "2024-05-01T11:00:00Z",
        "2024-05-01T12:00:00Z",
    ]
    assert history[1]["FeatureDrift"] == pytest.approx(second.metrics()["FeatureDrift"])
    html = report.read_text()
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js is inline: opens offline
    assert "Plotly.newPlot" in html and html.count('class="plotly-graph-div"') >= 6
    for name in ("age", "income", "plan", "FeatureDrift", "PredictionDrift"):
        assert name in html


# --- stack naming and the CLI's constants --------------------------------------------------------


def test_stack_prefix_is_the_exported_name_prefix() -> None:
    assert stack_prefix(make_outputs()) == PREFIX
    # a hashed (shortened) endpoint name no longer matters: the prefix is exported
    shortened = make_outputs(endpoint_name="mlops-platform-a-very-long-st-1a2b3c4d")
    assert stack_prefix(shortened) == PREFIX


def test_stack_prefix_from_older_exports_is_derived_or_refused() -> None:
    data = make_outputs().model_dump()
    data.pop("name_prefix")
    data["endpoint_name"] = "mlops-platform-a-very-long-st-1a2b3c4d"
    with pytest.raises(StackPrefixError, match="shortened with a hash"):
        stack_prefix(StackOutputs.model_construct(**data, name_prefix=""))


def test_cli_default_min_rows_matches_the_library() -> None:
    assert monitor_cmd.DEFAULT_MIN_ROWS == DEFAULT_MIN_ROWS
