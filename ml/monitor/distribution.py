"""Baseline and current distributions of a column, on the baseline's own bins, for plots
and for the prediction distribution (class shares or a score histogram)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from ml.drift import OTHER, Baseline, CategoricalBaseline, FeatureKind, NumericBaseline
from ml.drift.histogram import bin_counts

_MAX_UNBASELINED_CLASSES: Final = 20


@dataclass(frozen=True)
class Distribution:
    """Proportions per bin (numeric) or per category (categorical), baseline and current."""

    column: str
    kind: FeatureKind
    labels: tuple[str, ...]
    baseline: tuple[float, ...] | None
    """None when the baseline does not summarise the column."""
    current: tuple[float, ...]
    """All zeros when the window has no usable value in the column."""
    used: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind.value,
            "labels": list(self.labels),
            "baseline": None if self.baseline is None else list(self.baseline),
            "current": list(self.current),
            "used": self.used,
        }


def distribution(baseline: Baseline, name: str, values: pd.Series) -> Distribution:
    column = baseline.columns.get(name)
    if isinstance(column, NumericBaseline):
        return _numeric(name, column, values)
    if isinstance(column, CategoricalBaseline):
        return _categorical(name, column, values)
    return _unbaselined(name, values)


def _numeric(name: str, column: NumericBaseline, values: pd.Series) -> Distribution:
    finite = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = finite[np.isfinite(finite)]
    counts = bin_counts(column.edges, finite)
    return Distribution(
        column=name,
        kind=FeatureKind.NUMERIC,
        labels=bin_labels(column.bin_edges),
        baseline=tuple(float(p) for p in column.bin_proportions),
        current=_shares(counts),
        used=int(finite.size),
    )


def _categorical(name: str, column: CategoricalBaseline, values: pd.Series) -> Distribution:
    observed = column.observe(values, name)
    return Distribution(
        column=name,
        kind=FeatureKind.CATEGORICAL,
        labels=(*column.categories, OTHER),
        baseline=tuple(float(n) / column.count for n in column.counts),
        current=_shares(observed.data),
        used=observed.used,
    )


def _unbaselined(name: str, values: pd.Series) -> Distribution:
    """Current class shares only: the baseline has no prediction column to compare with."""
    present = values.dropna().astype(str)
    top = present.value_counts().iloc[:_MAX_UNBASELINED_CLASSES]
    return Distribution(
        column=name,
        kind=FeatureKind.CATEGORICAL,
        labels=tuple(str(label) for label in top.index),
        baseline=None,
        current=_shares(top.to_numpy()),
        used=int(present.size),
    )


def _shares(counts: Any) -> tuple[float, ...]:
    array = np.asarray(counts, dtype=np.float64)
    total = float(array.sum())
    return tuple(float(v) for v in (array / total if total else array))


def bin_labels(edges: tuple[float, ...]) -> tuple[str, ...]:
    """Labels of `ml.drift.histogram.bin_counts` bins: (-inf, e0), [e0, e1) ... [e_last, inf)."""
    if not edges:
        return ("all",)
    text = [_edge_text(edge) for edge in edges]
    middle = [f"[{low}, {high})" for low, high in zip(text, text[1:], strict=False)]
    return (f"< {text[0]}", *middle, f">= {text[-1]}")


def _edge_text(edge: float) -> str:
    # Thousands separators read better than 4.126e+04 for money-like features.
    return f"{edge:,.0f}" if abs(edge) >= 1000 else f"{edge:.4g}"
