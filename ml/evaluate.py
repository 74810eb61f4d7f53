"""The evaluation gate: a candidate model's holdout metrics against the stack's thresholds and
the current champion.

    thresholds = gate_thresholds(handle.outputs)     # data: metric, minimum, max regression
    result = evaluate_gate(candidate_metrics, thresholds, champion=champion_metrics)
    result.passed, result.reasons, result.table, result.summary()

A candidate passes when its gate metric (``outputs.gate_metric``) is at least
``outputs.gate_minimum`` and, if there is a champion, at least the champion's value minus
``outputs.gate_max_regression``. Both comparisons allow ``TOLERANCE`` for floating-point noise,
so a floor computed as ``0.8 - 0.1`` does not reject a candidate scoring exactly 0.7.

The metrics themselves come from ``classification_metrics`` (the training job writes them to
``metrics.json``; ``holdout_metrics`` recomputes them for a fitted model on any frame), so the
gate, the job and the registry all speak of the same numbers under the same names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from infra.outputs import StackOutputs

TOLERANCE: Final = 1e-9
"""Slack for floating-point noise in threshold comparisons."""
DECISION_THRESHOLD: Final = 0.5
"""Probability above which accuracy and F1 count a prediction as positive."""

HIGHER_IS_BETTER: Final[dict[str, bool]] = {
    "auc": True,
    "accuracy": True,
    "f1": True,
    "logloss": False,
}
"""Every metric ``classification_metrics`` reports, in report order, and its direction."""
GATE_METRICS: Final = tuple(name for name, higher in HIGHER_IS_BETTER.items() if higher)
"""Metrics the gate can be configured on: those where a minimum makes sense."""


class GateInputError(ValueError):
    """The gate was given thresholds or metrics it cannot judge; the message says how to fix."""


# --- metrics ----------------------------------------------------------------------------------


def classification_metrics(
    is_positive: npt.ArrayLike, probability: npt.ArrayLike
) -> dict[str, float]:
    """Holdout metrics of a binary classifier: auc, accuracy, f1, logloss (and ``rows``).

    ``is_positive`` holds 0/1 (or booleans) per row; ``probability`` the predicted probability
    of the positive class. AUC is NaN when the rows hold a single class (it is undefined);
    the gate then fails the candidate rather than guessing.
    """
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    truth = np.asarray(is_positive).astype(np.int64)
    proba = np.asarray(probability, dtype=np.float64)
    if truth.shape != proba.shape or truth.ndim != 1:
        raise GateInputError(
            f"labels {truth.shape} and probabilities {proba.shape} must be 1-D and aligned"
        )
    if truth.size == 0:
        raise GateInputError("no holdout rows to compute metrics on")
    predicted = (proba >= DECISION_THRESHOLD).astype(np.int64)
    both_classes = np.unique(truth).size == 2
    return {
        "auc": float(roc_auc_score(truth, proba)) if both_classes else math.nan,
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1": float(f1_score(truth, predicted, zero_division=0.0)),
        "logloss": float(log_loss(truth, proba, labels=[0, 1])),
        "rows": float(truth.size),
    }


def holdout_metrics(model: Any, frame: pd.DataFrame, label: str) -> dict[str, float]:
    """``classification_metrics`` of a fitted scikit-learn classifier on a labelled frame.

    The positive class is the model's second class (``model.classes_[1]``), as in training.
    """
    if label not in frame.columns:
        raise GateInputError(
            f"the holdout frame has no label column {label!r}; columns: {list(frame.columns)}"
        )
    classes = list(model.classes_)
    if len(classes) != 2:
        raise GateInputError(f"the model has {len(classes)} classes; the gate needs binary")
    features = frame.drop(columns=[label])
    probability = model.predict_proba(features)[:, 1]
    return classification_metrics((frame[label] == classes[1]).to_numpy(), probability)


# --- thresholds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateThresholds:
    """What a candidate must reach: the stack's gate, as data."""

    metric: str
    """Holdout metric compared (one of ``GATE_METRICS``; higher is better)."""
    minimum: float
    """A candidate below this is rejected."""
    max_regression: float
    """How far below the champion a candidate may score and still pass."""

    def __post_init__(self) -> None:
        if self.metric not in GATE_METRICS:
            raise GateInputError(
                f"gate metric {self.metric!r} is not one of {', '.join(GATE_METRICS)}; "
                "set registry.gateMetric in the stack config to one of them"
            )
        if not 0 <= self.max_regression <= 1 or math.isnan(self.max_regression):
            raise GateInputError(
                f"gate max regression {self.max_regression} is outside 0..1; "
                "set registry.gateMaxRegression in the stack config"
            )
        if math.isnan(self.minimum):
            raise GateInputError("gate minimum is NaN; set registry.gateMinimum")


def gate_thresholds(outputs: StackOutputs) -> GateThresholds:
    """The stack's evaluation gate: ``gate_metric``, ``gate_minimum``, ``gate_max_regression``."""
    return GateThresholds(
        metric=outputs.gate_metric,
        minimum=outputs.gate_minimum,
        max_regression=outputs.gate_max_regression,
    )


# --- the gate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateRow:
    """One line of the gate's table: a metric of the candidate beside what it is held to."""

    metric: str
    candidate: float
    champion: float | None
    """The champion's value, when there is a champion that reports this metric."""
    minimum: float | None
    """The stack's minimum (gate metric only)."""
    floor: float | None
    """Champion minus max regression (gate metric, with a champion, only)."""
    passed: bool | None
    """Verdict for the gate metric; None for metrics that are reported, not gated."""


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict, why, and the table it was decided on."""

    passed: bool
    reasons: tuple[str, ...]
    """Why the candidate failed, one sentence per failed check (empty when it passed)."""
    notes: tuple[str, ...]
    """What the gate checked or skipped (e.g. no champion yet)."""
    table: tuple[GateRow, ...]
    thresholds: GateThresholds

    def summary(self) -> str:
        """Plain-text report: verdict, reasons or notes, then the table."""
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"evaluation gate {verdict} on {self.thresholds.metric}"]
        lines += [f"  - {reason}" for reason in self.reasons]
        lines += [f"  * {note}" for note in self.notes]
        header = ("metric", "candidate", "champion", "minimum", "floor", "verdict")
        rows = [header] + [
            (
                row.metric,
                _number(row.candidate),
                _number(row.champion),
                _number(row.minimum),
                _number(row.floor),
                {True: "pass", False: "FAIL", None: ""}[row.passed],
            )
            for row in self.table
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows
        ]
        return "\n".join(line.rstrip() for line in lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "thresholds": {
                "metric": self.thresholds.metric,
                "minimum": self.thresholds.minimum,
                "max_regression": self.thresholds.max_regression,
            },
            "table": [asdict(row) for row in self.table],
        }


def evaluate_gate(
    candidate: Mapping[str, float],
    thresholds: GateThresholds,
    champion: Mapping[str, float] | None = None,
) -> GateResult:
    """Judge a candidate's holdout metrics against the thresholds and the champion's metrics.

    ``champion=None`` means there is no champion yet: only the minimum applies. A champion
    that lacks the gate metric is an error (comparing against nothing would wave through
    any candidate); so is a candidate that lacks it.
    """
    metric = thresholds.metric
    value = _required(candidate, metric, "the candidate's metrics")
    reasons: list[str] = []
    notes: list[str] = []

    if math.isnan(value):
        reasons.append(
            f"{metric} is not a number: the holdout must contain both classes to score it"
        )
    elif value + TOLERANCE < thresholds.minimum:
        reasons.append(
            f"{metric} {value:.4f} is below the stack's minimum {thresholds.minimum:.4f}"
        )
    else:
        notes.append(f"{metric} {value:.4f} meets the minimum {thresholds.minimum:.4f}")

    floor: float | None = None
    champion_value: float | None = None
    if champion is None:
        notes.append("no champion: the comparison with the current model is skipped")
    else:
        champion_value = _required(champion, metric, "the champion's metrics")
        floor = champion_value - thresholds.max_regression
        if math.isnan(value):
            pass  # already failed above; a NaN compares with nothing
        elif value + TOLERANCE < floor:
            reasons.append(
                f"{metric} {value:.4f} is worse than the champion's {champion_value:.4f} by "
                f"{champion_value - value:.4f}, more than the allowed regression "
                f"{thresholds.max_regression:.4f}"
            )
        else:
            notes.append(
                f"{metric} {value:.4f} is within {thresholds.max_regression:.4f} of the "
                f"champion's {champion_value:.4f}"
            )

    passed = not reasons
    table = _table(candidate, champion, thresholds, floor, passed)
    return GateResult(
        passed=passed,
        reasons=tuple(reasons),
        notes=tuple(notes),
        table=table,
        thresholds=thresholds,
    )


def _required(metrics: Mapping[str, float], metric: str, whose: str) -> float:
    if metric not in metrics:
        known = ", ".join(sorted(metrics)) or "none"
        raise GateInputError(
            f"{whose} lack the gate metric {metric!r} (they have: {known}); "
            "compute them with ml.evaluate.classification_metrics"
        )
    return float(metrics[metric])


def _table(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    thresholds: GateThresholds,
    floor: float | None,
    passed: bool,
) -> tuple[GateRow, ...]:
    rows = []
    for name in HIGHER_IS_BETTER:
        if name not in candidate:
            continue
        gated = name == thresholds.metric
        rows.append(
            GateRow(
                metric=name,
                candidate=float(candidate[name]),
                champion=float(champion[name]) if champion and name in champion else None,
                minimum=thresholds.minimum if gated else None,
                floor=floor if gated else None,
                passed=passed if gated else None,
            )
        )
    return tuple(rows)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
