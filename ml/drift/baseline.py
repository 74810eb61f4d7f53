"""Training-time summary of every feature (and the prediction), stored with the model.

``fit_baseline`` runs once, when the model is trained, on the training frame. The resulting
``Baseline`` is JSON (``drift_baseline.json`` inside ``model.tar.gz``; about 20 KB per numeric
feature with the default 1,000-point sketch, whatever the training size, and a few bytes per
category) and is all that monitoring needs: drift reports never re-read the training set.

Missing values (policy shared with ``report``): NaN, None and pd.NA, and for numeric columns
also +/-inf, are excluded from every distribution and counted (``missing``). A change in the
missing rate is reported beside the statistic, but does not by itself flag drift.

Categorical values are compared by their text label (``str(value)``; in a float column,
integral values are written as integers, so that an int column that gained NaNs, and therefore
became float, keeps its labels). Only the ``max_categories`` most frequent training
categories are stored; every other value (rarer training categories and categories never
seen in training) is pooled into one ``OTHER`` bucket whose baseline count is the pooled
training count, often zero. Each statistic documents how it treats a zero baseline bucket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from ml.drift.ecdf import StepCDF, sketch_points
from ml.drift.errors import (
    BaselineFormatError,
    DriftConfigError,
    DriftDataError,
    MissingFeatureError,
)
from ml.drift.histogram import FloatArray, IntArray, bin_counts, quantile_edges
from ml.drift.kinds import FeatureKind

BASELINE_FILENAME: Final = "drift_baseline.json"
"""The file name the baseline has inside ``model.tar.gz``."""
SCHEMA: Final = "mlops.drift.baseline/v1"
DEFAULT_BINS: Final = 10
DEFAULT_SKETCH_SIZE: Final = 1000
DEFAULT_MAX_CATEGORIES: Final = 100
OTHER: Final = "__other__"
"""Label of the bucket pooling categories outside the stored list."""


@dataclass(frozen=True)
class Observation:
    """A current column reduced to what the statistics need."""

    data: npt.NDArray[Any]
    """Numeric: the usable (finite) values. Categorical: counts aligned with the baseline's
    categories, with the ``OTHER`` count last."""
    used: int
    """Rows that entered the statistic."""
    missing: int
    """Rows excluded as missing."""


@dataclass(frozen=True)
class NumericBaseline:
    """Training summary of a numeric column."""

    kind: ClassVar[FeatureKind] = FeatureKind.NUMERIC

    count: int
    """Non-missing training rows."""
    missing: int
    """Training rows excluded as missing (NaN, None, +/-inf)."""
    mean: float
    std: float
    """Sample standard deviation (ddof=1; 0 for a single row)."""
    bin_edges: tuple[float, ...]
    """Interior edges at training quantiles; see ``histogram.bin_counts`` for the bins."""
    bin_counts: tuple[int, ...]
    """Training rows per bin (one more entry than ``bin_edges``)."""
    ks_points: tuple[float, ...]
    """Sorted: K + 1 sketch order statistics, or every training value when ``ks_exact``."""
    ks_exact: bool
    ks_max_error: float
    """Largest gap between the stored CDF and the training ECDF: an upper bound on the error
    of the KS statistic computed from this baseline (0 when exact, <= 1/(2K) when sketched)."""

    @cached_property
    def edges(self) -> FloatArray:
        return np.asarray(self.bin_edges, dtype=np.float64)

    @cached_property
    def counts(self) -> IntArray:
        return np.asarray(self.bin_counts, dtype=np.int64)

    @property
    def bin_proportions(self) -> FloatArray:
        return self.counts / self.count

    @cached_property
    def ecdf(self) -> StepCDF:
        points = np.asarray(self.ks_points, dtype=np.float64)
        return StepCDF.from_sample(points) if self.ks_exact else StepCDF.from_sketch(points)

    def observe(self, column: pd.Series, name: str) -> Observation:
        values, missing = finite_values(column, name)
        return Observation(data=values, used=int(values.size), missing=missing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "count": self.count,
            "missing": self.missing,
            "mean": self.mean,
            "std": self.std,
            "bin_edges": list(self.bin_edges),
            "bin_counts": list(self.bin_counts),
            "ks": {
                "exact": self.ks_exact,
                "max_error": self.ks_max_error,
                "points": list(self.ks_points),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericBaseline:
        ks = data["ks"]
        return cls(
            count=int(data["count"]),
            missing=int(data["missing"]),
            mean=float(data["mean"]),
            std=float(data["std"]),
            bin_edges=tuple(float(v) for v in data["bin_edges"]),
            bin_counts=tuple(int(v) for v in data["bin_counts"]),
            ks_points=tuple(float(v) for v in ks["points"]),
            ks_exact=bool(ks["exact"]),
            ks_max_error=float(ks["max_error"]),
        )


@dataclass(frozen=True)
class CategoricalBaseline:
    """Training summary of a categorical column."""

    kind: ClassVar[FeatureKind] = FeatureKind.CATEGORICAL

    count: int
    """Non-missing training rows."""
    missing: int
    """Training rows excluded as missing (NaN, None, pd.NA)."""
    categories: tuple[str, ...]
    """Category labels, most frequent first (at most ``max_categories``)."""
    category_counts: tuple[int, ...]
    other_count: int
    """Training rows in categories beyond ``max_categories`` (pooled into ``OTHER``)."""

    @cached_property
    def counts(self) -> IntArray:
        """Training counts aligned like ``Observation.data``: categories, then ``OTHER``."""
        return np.asarray((*self.category_counts, self.other_count), dtype=np.int64)

    @property
    def proportions(self) -> dict[str, float]:
        labels = (*self.categories, OTHER)
        return {label: int(n) / self.count for label, n in zip(labels, self.counts, strict=True)}

    @cached_property
    def _index(self) -> pd.Index:
        return pd.Index(self.categories, dtype=object)

    def observe(self, column: pd.Series, name: str) -> Observation:
        """Count current rows per baseline category; anything else goes to ``OTHER``."""
        frequencies = column.value_counts(dropna=True, sort=False)
        positions = self._index.get_indexer(category_labels(frequencies.index))
        positions = np.where(positions < 0, len(self.categories), positions)
        counts = np.bincount(
            positions,
            weights=frequencies.to_numpy(dtype=np.float64),
            minlength=len(self.categories) + 1,
        ).astype(np.int64)
        used = int(counts.sum())
        return Observation(data=counts, used=used, missing=int(column.size) - used)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "count": self.count,
            "missing": self.missing,
            "categories": dict(zip(self.categories, self.category_counts, strict=True)),
            "other_count": self.other_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalBaseline:
        categories: Mapping[str, Any] = data["categories"]
        return cls(
            count=int(data["count"]),
            missing=int(data["missing"]),
            categories=tuple(str(label) for label in categories),
            category_counts=tuple(int(n) for n in categories.values()),
            other_count=int(data["other_count"]),
        )


ColumnBaseline = NumericBaseline | CategoricalBaseline


@dataclass(frozen=True)
class Baseline:
    """Every column's training summary; serialise with ``to_json`` and store with the model."""

    columns: Mapping[str, ColumnBaseline]
    """Features in training order, then the prediction column if any."""
    prediction: str | None
    """Name of the prediction column (also a key of ``columns``), or None."""
    n_rows: int
    """Training rows summarised."""

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(name for name in self.columns if name != self.prediction)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "n_rows": self.n_rows,
            "prediction": self.prediction,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
        }

    def to_json(self, *, indent: int | None = None) -> str:
        # allow_nan=False keeps the file strict JSON; fit_baseline never produces NaN.
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        if data.get("schema") != SCHEMA:
            raise BaselineFormatError(
                f"drift baseline schema is {data.get('schema')!r}, expected {SCHEMA!r}; "
                "refit the baseline with this version of ml.drift"
            )
        try:
            columns = {name: _column_from_dict(name, raw) for name, raw in data["columns"].items()}
            prediction = data["prediction"]
            n_rows = int(data["n_rows"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineFormatError(f"drift baseline is malformed: {exc!r}") from exc
        if prediction is not None and prediction not in columns:
            raise BaselineFormatError(f"prediction column {prediction!r} has no summary")
        return cls(columns=columns, prediction=prediction, n_rows=n_rows)

    @classmethod
    def from_json(cls, text: str) -> Baseline:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineFormatError(f"drift baseline is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BaselineFormatError("drift baseline must be a JSON object")
        return cls.from_dict(data)

    def save(self, path: Path) -> Path:
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Baseline:
        return cls.from_json(path.read_text(encoding="utf-8"))


def _column_from_dict(name: str, data: Mapping[str, Any]) -> ColumnBaseline:
    kind = data["kind"]
    if kind == FeatureKind.NUMERIC:
        return NumericBaseline.from_dict(data)
    if kind == FeatureKind.CATEGORICAL:
        return CategoricalBaseline.from_dict(data)
    raise BaselineFormatError(f"column {name!r} has unknown kind {kind!r}")


def fit_baseline(
    frame: pd.DataFrame,
    feature_kinds: Mapping[str, FeatureKind | str],
    *,
    prediction: str | None = None,
    prediction_kind: FeatureKind | str = FeatureKind.NUMERIC,
    bins: int = DEFAULT_BINS,
    ks_sketch_size: int | None = DEFAULT_SKETCH_SIZE,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> Baseline:
    """Summarise the training frame's features (and prediction column) for drift monitoring.

    ``ks_sketch_size=None`` keeps every training value for an exact KS statistic (tests, small
    data); a column with at most ``ks_sketch_size + 1`` values is stored exactly anyway, since
    that is no larger than the sketch.
    """
    kinds = _resolve_kinds(feature_kinds, prediction, prediction_kind)
    _check_fit_arguments(frame, kinds, bins, ks_sketch_size, max_categories)
    columns: dict[str, ColumnBaseline] = {}
    for name, kind in kinds.items():
        if kind is FeatureKind.NUMERIC:
            columns[name] = _fit_numeric(frame[name], name, bins, ks_sketch_size)
        else:
            columns[name] = _fit_categorical(frame[name], name, max_categories)
    return Baseline(columns=columns, prediction=prediction, n_rows=len(frame))


def _resolve_kinds(
    feature_kinds: Mapping[str, FeatureKind | str],
    prediction: str | None,
    prediction_kind: FeatureKind | str,
) -> dict[str, FeatureKind]:
    if prediction is not None and prediction in feature_kinds:
        raise DriftConfigError(
            f"{prediction!r} is both a feature and the prediction column; list it only once"
        )
    requested = dict(feature_kinds)
    if prediction is not None:
        requested[prediction] = prediction_kind
    allowed = ", ".join(kind.value for kind in FeatureKind)
    kinds: dict[str, FeatureKind] = {}
    for name, kind in requested.items():
        try:
            kinds[name] = FeatureKind(kind)
        except ValueError:
            raise DriftConfigError(
                f"column {name!r} has kind {kind!r}; use one of: {allowed}"
            ) from None
    return kinds


def _check_fit_arguments(
    frame: pd.DataFrame,
    kinds: Mapping[str, FeatureKind],
    bins: int,
    ks_sketch_size: int | None,
    max_categories: int,
) -> None:
    if not kinds:
        raise DriftConfigError("no features given: feature_kinds is empty")
    missing = [name for name in kinds if name not in frame.columns]
    if missing:
        raise MissingFeatureError(missing, "the training frame")
    if len(frame) == 0:
        raise DriftDataError("the training frame has no rows")
    if bins < 2:
        raise DriftConfigError(f"bins={bins}: need at least 2 bins")
    if ks_sketch_size is not None and ks_sketch_size < 2:
        raise DriftConfigError(f"ks_sketch_size={ks_sketch_size}: need at least 2 (or None)")
    if max_categories < 1:
        raise DriftConfigError(f"max_categories={max_categories}: need at least 1")


def _fit_numeric(
    column: pd.Series, name: str, bins: int, ks_sketch_size: int | None
) -> NumericBaseline:
    values, missing = finite_values(column, name)
    if values.size == 0:
        raise DriftDataError(f"numeric column {name!r} has no finite training value")
    ordered = np.sort(values)
    edges = quantile_edges(ordered, bins)
    exact = ks_sketch_size is None or ordered.size <= ks_sketch_size + 1
    if exact:
        points, cdf = ordered, StepCDF.from_sample(ordered)
    else:
        assert ks_sketch_size is not None  # narrowed by `exact` above
        points = sketch_points(ordered, ks_sketch_size)
        cdf = StepCDF.from_sketch(points)
    return NumericBaseline(
        count=int(ordered.size),
        missing=missing,
        mean=float(ordered.mean()),
        std=float(ordered.std(ddof=1)) if ordered.size > 1 else 0.0,
        bin_edges=tuple(edges.tolist()),
        bin_counts=tuple(bin_counts(edges, ordered).tolist()),
        ks_points=tuple(points.tolist()),
        ks_exact=exact,
        # Measured, not assumed: the same supremum routine against the training ECDF itself.
        ks_max_error=cdf.sup_distance_sorted(ordered),
    )


def _fit_categorical(column: pd.Series, name: str, max_categories: int) -> CategoricalBaseline:
    frequencies = column.value_counts(dropna=True, sort=False)
    if frequencies.sum() == 0:
        raise DriftDataError(f"categorical column {name!r} has no non-missing training value")
    # Different raw values can share a label (1 and "1"): add them up under that label.
    by_label = frequencies.groupby(category_labels(frequencies.index), sort=False).sum()
    # Most frequent first, ties broken by label (a stable sort of the label-sorted counts) so
    # that the stored order, and the top-k cut, are deterministic.
    ordered = by_label.sort_index().sort_values(ascending=False, kind="stable")
    kept = ordered.iloc[:max_categories]
    used = int(ordered.sum())
    return CategoricalBaseline(
        count=used,
        missing=int(column.size) - used,
        categories=tuple(str(label) for label in kept.index),
        category_counts=tuple(int(n) for n in kept.to_numpy()),
        other_count=used - int(kept.sum()),
    )


def finite_values(column: pd.Series, name: str) -> tuple[FloatArray, int]:
    """The column's finite values as float64, and how many rows were missing or infinite."""
    try:
        raw = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DriftDataError(
            f"column {name!r} is declared numeric but holds non-numeric values ({exc}); "
            "declare it categorical or convert it"
        ) from exc
    finite = np.isfinite(raw)
    values: FloatArray = raw[finite]
    return values, int(raw.size - values.size)


def category_labels(index: pd.Index) -> npt.NDArray[np.object_]:
    """Text labels of category values, vectorised over the distinct values (not the rows)."""
    values = index.to_numpy()
    if values.dtype.kind == "f":
        integral = np.isfinite(values) & (values == np.floor(values))
        as_int = np.where(integral, values, 0).astype(np.int64).astype(str)
        labels = np.where(integral, as_int, values.astype(str))
        return labels.astype(object)
    return np.asarray(index.astype(str), dtype=object)
