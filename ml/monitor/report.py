"""A self-contained HTML report of a monitoring run, and the run history it plots.

The page embeds plotly.js once (no network needed to open it, e.g. as a CI artifact) and
holds: the run's summary, per-feature drift as bars of severity (value / threshold; > 1 is
drift), baseline vs current distributions of every feature and of the prediction, and the
published metrics over time. The history is a small JSON list next to the report
(`<report>.history.json`, the last `HISTORY_LIMIT` runs, one entry per window end).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
from jinja2 import Environment, select_autoescape
from plotly.offline import get_plotlyjs

from infra.outputs import ACCURACY_METRIC, FEATURE_DRIFT_METRIC, PREDICTION_DRIFT_METRIC
from ml.monitor.distribution import Distribution
from ml.monitor.metrics import MonitoringResult
from ml.monitor.window import iso

HISTORY_LIMIT: Final = 500
HISTORY_SUFFIX: Final = ".history.json"
_DRIFTED, _STABLE, _BASELINE, _CURRENT = "#d62728", "#2ca02c", "#7f7f7f", "#1f77b4"

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Monitoring {{ r.stack }} {{ window.end }}</title>
<script type="text/javascript">{{ plotlyjs | safe }}</script>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
.drifted { color: #d62728; font-weight: bold; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); }
</style>
</head>
<body>
<h1>Model monitoring: {{ r.stack }}</h1>
<p>Endpoint <b>{{ r.endpoint }}</b>, window {{ window.start }} to {{ window.end }}.
Model {{ r.model_version or "unknown" }}, dataset {{ r.dataset_version or "unknown" }}.</p>
<table>
<tr><th>Metric</th><th>Value</th><th>Threshold</th><th>Status</th></tr>
{% for row in summary %}
<tr><td>{{ row.name }}</td><td>{{ row.value }}</td><td>{{ row.threshold }}</td>
<td class="{{ 'drifted' if row.bad else '' }}">{{ row.status }}</td></tr>
{% endfor %}
</table>
<p>{{ r.rows }} rows in {{ r.records }} requests from {{ r.files }} files;
{{ r.skipped | length }} malformed lines skipped; {{ r.outside_window }} records outside the
window.</p>
{% if r.skipped %}<details><summary>Skipped lines</summary><ul>
{% for line in r.skipped[:50] %}<li>{{ line }}</li>{% endfor %}</ul></details>{% endif %}
{% if features %}
<h2>Feature drift</h2>
<table>
<tr><th>Feature</th><th>Statistic</th><th>Value</th><th>Threshold</th><th>Drifted</th>
<th>Missing</th></tr>
{% for f in features %}
<tr><td>{{ f.feature }}</td><td>{{ f.statistic }}</td><td>{{ fmt(f.value) }}</td>
<td>{{ f.threshold }}</td><td class="{{ 'drifted' if f.drifted else '' }}">
{{ 'yes' if f.drifted else 'no' }}</td><td>{{ fmt(f.missing_rate) }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% for figure in top %}{{ figure | safe }}{% endfor %}
{% if distributions %}<h2>Distributions: baseline vs current</h2>
<div class="grid">{% for figure in distributions %}<div>{{ figure | safe }}</div>{% endfor %}</div>
{% endif %}
{% if history %}<h2>Over time</h2>{% for figure in history %}{{ figure | safe }}{% endfor %}
{% endif %}
</body>
</html>
"""


def history_path(report: Path) -> Path:
    return report.with_name(report.name.removesuffix(".html") + HISTORY_SUFFIX)


def history_entry(result: MonitoringResult) -> dict[str, Any]:
    metrics = result.metrics()
    latency = result.latency
    return {
        "window_end": iso(result.window.end),
        "window_start": iso(result.window.start),
        FEATURE_DRIFT_METRIC: metrics.get(FEATURE_DRIFT_METRIC),
        PREDICTION_DRIFT_METRIC: metrics.get(PREDICTION_DRIFT_METRIC),
        ACCURACY_METRIC: metrics.get(ACCURACY_METRIC),
        "p50_ms": None if latency is None else latency.p50_ms,
        "p99_ms": None if latency is None else latency.p99_ms,
        "rows": result.rows,
        "skipped": len(result.skipped),
        "model_version": result.model_version,
    }


def update_history(path: Path, result: MonitoringResult) -> list[dict[str, Any]]:
    """Add the run (replacing an earlier run of the same window end); keep the newest."""
    history: list[dict[str, Any]] = []
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            history = [item for item in loaded if isinstance(item, dict)]
        except (json.JSONDecodeError, TypeError):
            history = []  # a damaged history only costs the plot its past, never the run
    entry = history_entry(result)
    history = [item for item in history if item.get("window_end") != entry["window_end"]]
    history.append(entry)
    history.sort(key=lambda item: str(item.get("window_end")))
    history = history[-HISTORY_LIMIT:]
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(history, indent=1), encoding="utf-8")
    tmp.replace(path)
    return history


def write_report(result: MonitoringResult, path: Path) -> Path:
    """Write the HTML report (and update the history beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    history = update_history(history_path(path), result)
    path.write_text(render(result, history), encoding="utf-8")
    return path


def render(result: MonitoringResult, history: list[dict[str, Any]]) -> str:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(_TEMPLATE)
    top = [] if result.drift is None else [_html(drift_figure(result), "drift")]
    if result.prediction_distribution is not None:
        top.append(_html(distribution_figure(result.prediction_distribution), "prediction"))
    distributions = [
        _html(distribution_figure(item), f"dist-{index}")
        for index, item in enumerate(result.feature_distributions)
    ]
    return template.render(
        r=result,
        window=result.window.to_dict(),
        plotlyjs=get_plotlyjs(),
        summary=_summary(result),
        features=[] if result.drift is None else result.drift.features,
        fmt=_fmt,
        top=top,
        distributions=distributions,
        history=[
            _html(figure, f"history-{i}")
            for i, figure in enumerate(history_figures(result, history))
        ],
    )


def drift_figure(result: MonitoringResult) -> go.Figure:
    assert result.drift is not None
    items = list(result.drift.features)
    if result.drift.prediction is not None and result.drift.prediction.used:
        items.append(result.drift.prediction)
    severities = [_finite(item.severity) for item in items]
    figure = go.Figure(
        go.Bar(
            x=[item.feature for item in items],
            y=severities,
            marker_color=[_DRIFTED if item.drifted else _STABLE for item in items],
            customdata=[[item.statistic, _fmt(item.value), item.threshold] for item in items],
            hovertemplate="%{x}<br>%{customdata[0]} = %{customdata[1]}"
            "<br>threshold %{customdata[2]}<br>severity %{y:.3f}<extra></extra>",
        )
    )
    figure.add_hline(y=1.0, line_dash="dash", line_color=_DRIFTED, annotation_text="threshold")
    figure.update_layout(
        title="Drift severity per feature (value / threshold; above 1 is drift)",
        yaxis_title="severity",
        height=380,
    )
    return figure


def distribution_figure(item: Distribution) -> go.Figure:
    figure = go.Figure()
    labels = list(item.labels)
    if item.baseline is not None:
        figure.add_bar(x=labels, y=list(item.baseline), name="baseline", marker_color=_BASELINE)
    figure.add_bar(x=labels, y=list(item.current), name="current", marker_color=_CURRENT)
    figure.update_layout(
        title=f"{item.column} ({item.kind.value}, {item.used} current values)",
        barmode="group",
        yaxis_title="share",
        height=320,
        margin={"l": 40, "r": 10, "t": 40, "b": 60},
    )
    return figure


def history_figures(result: MonitoringResult, history: list[dict[str, Any]]) -> list[go.Figure]:
    times = [item["window_end"] for item in history]
    quality = go.Figure()
    for metric, threshold, position in (
        (FEATURE_DRIFT_METRIC, result.thresholds.drift_threshold, "top left"),
        (PREDICTION_DRIFT_METRIC, result.thresholds.prediction_drift_threshold, "top right"),
        (ACCURACY_METRIC, result.thresholds.min_accuracy, "bottom left"),
    ):
        values = [item.get(metric) for item in history]
        if any(value is not None for value in values):
            quality.add_scatter(x=times, y=values, mode="lines+markers", name=metric)
            # Thresholds are often equal: annotate each at its own corner of the line.
            quality.add_hline(
                y=threshold,
                line_dash="dot",
                annotation_text=f"{metric} threshold",
                annotation_position=position,
            )
    quality.update_layout(title="Published metrics per run", height=380)
    figures = [quality]
    if any(item.get("p99_ms") is not None for item in history):
        latency = go.Figure()
        for key in ("p50_ms", "p99_ms"):
            latency.add_scatter(
                x=times, y=[item.get(key) for item in history], mode="lines+markers", name=key
            )
        latency.update_layout(title="Model latency (ms)", height=320)
        figures.append(latency)
    return figures


def _summary(result: MonitoringResult) -> list[dict[str, Any]]:
    thresholds = result.thresholds
    accuracy = result.accuracy
    latency = result.latency
    return [
        _row(FEATURE_DRIFT_METRIC, result.feature_drift, thresholds.drift_threshold, above=True),
        _row(
            PREDICTION_DRIFT_METRIC,
            result.prediction_drift,
            thresholds.prediction_drift_threshold,
            above=True,
        ),
        _row(
            ACCURACY_METRIC,
            None if accuracy is None else accuracy.accuracy,
            thresholds.min_accuracy,
            above=False,
            note="" if accuracy is None else f"{accuracy.matched} labelled rows",
        ),
        {
            "name": "Latency p50 / p99 (ms)",
            "value": "n/a" if latency is None else f"{latency.p50_ms:.1f} / {latency.p99_ms:.1f}",
            "threshold": "",
            "status": "" if latency is None else f"from {latency.source}",
            "bad": False,
        },
    ]


def _row(
    name: str, value: float | None, threshold: float, *, above: bool, note: str = ""
) -> dict[str, Any]:
    if value is None:
        return {"name": name, "value": "n/a", "threshold": threshold, "status": note, "bad": False}
    bad = value > threshold if above else value < threshold
    status = ("crossed" if bad else "ok") + (f" ({note})" if note else "")
    return {
        "name": name,
        "value": _fmt(value),
        "threshold": threshold,
        "status": status,
        "bad": bad,
    }


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}"


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 1000.0


def _html(figure: go.Figure, div_id: str) -> str:
    # plotly.js is embedded once in the page head; the figures only reference it.
    html: str = figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)
    return html
