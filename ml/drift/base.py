"""What a drift statistic is: a small frozen description plus how it reads a baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy.typing as npt

from ml.drift.baseline import CategoricalBaseline, ColumnBaseline, NumericBaseline
from ml.drift.errors import DriftConfigError
from ml.drift.histogram import FloatArray, IntArray
from ml.drift.kinds import Direction, FeatureKind


@dataclass(frozen=True)
class Measurement:
    """One statistic evaluated on one column."""

    value: float
    """What is compared with the threshold: a distance, or a p-value."""
    test_statistic: float | None = None
    """For hypothesis tests, the test statistic behind the p-value (KS D, chi-square)."""


NumericEvaluator = Callable[[NumericBaseline, FloatArray], Measurement]
CategoricalEvaluator = Callable[[CategoricalBaseline, IntArray], Measurement]


@dataclass(frozen=True)
class Statistic:
    """A drift statistic: name, the feature kinds it applies to, default threshold, direction.

    The evaluators adapt the statistic's pure function (in its own module) to a column's
    baseline: numeric evaluators receive the finite current values, categorical ones the
    current counts aligned with the baseline categories (``OTHER`` last).
    """

    name: str
    kinds: frozenset[FeatureKind]
    default_threshold: float
    direction: Direction
    summary: str
    numeric: NumericEvaluator | None = field(default=None, repr=False, compare=False)
    categorical: CategoricalEvaluator | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The declared kinds must be exactly those an evaluator exists for, so that the
        # description can never promise what the code cannot do.
        served = {
            kind
            for kind, evaluator in (
                (FeatureKind.NUMERIC, self.numeric),
                (FeatureKind.CATEGORICAL, self.categorical),
            )
            if evaluator is not None
        }
        if served != set(self.kinds):
            raise DriftConfigError(
                f"statistic {self.name!r} declares {sorted(self.kinds)} "
                f"but has evaluators for {sorted(served)}"
            )
        problem = self.direction.check_threshold(self.default_threshold)
        if problem:
            raise DriftConfigError(f"statistic {self.name!r}: default threshold {problem}")

    def applies_to(self, kind: FeatureKind) -> bool:
        return kind in self.kinds

    def measure(self, column: ColumnBaseline, data: npt.NDArray[Any]) -> Measurement:
        """Evaluate on a column whose kind this statistic applies to."""
        if isinstance(column, NumericBaseline) and self.numeric is not None:
            return self.numeric(column, data)
        if isinstance(column, CategoricalBaseline) and self.categorical is not None:
            return self.categorical(column, data)
        raise DriftConfigError(
            f"statistic {self.name!r} does not apply to {column.kind.value} columns"
        )
