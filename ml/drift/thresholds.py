"""Which statistic each column is measured with, and the threshold it is held to: data.

``default_thresholds()`` is the single source of the defaults. A stack file (or any mapping)
can change them through ``Thresholds.from_dict``; per-column overrides pick both the statistic
and, optionally, the threshold. The prediction column is overridden like any feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ml.drift.base import Statistic
from ml.drift.errors import DriftConfigError
from ml.drift.kinds import FeatureKind
from ml.drift.registry import STATISTICS, get_statistic


@dataclass(frozen=True)
class FeatureThreshold:
    """A per-column choice of statistic, and of threshold (None: the statistic's default)."""

    statistic: str
    threshold: float | None = None


@dataclass(frozen=True)
class Thresholds:
    """Default statistic per feature kind, threshold per statistic, overrides per column."""

    statistic_for_kind: Mapping[FeatureKind, str]
    """The statistic each kind of column is measured with unless overridden."""
    threshold_for_statistic: Mapping[str, float]
    """The threshold each statistic is held to unless overridden."""
    overrides: Mapping[str, FeatureThreshold] = field(default_factory=dict)
    """Column name -> statistic (and threshold) for that column only."""

    def __post_init__(self) -> None:
        for kind in FeatureKind:
            if kind not in self.statistic_for_kind:
                raise DriftConfigError(f"no default statistic for {kind.value} columns")
            _applicable(get_statistic(self.statistic_for_kind[kind]), kind, f"{kind.value} columns")
        for name, threshold in self.threshold_for_statistic.items():
            _check_threshold(get_statistic(name), threshold, f"threshold for {name!r}")
        for column, choice in self.overrides.items():
            statistic = get_statistic(choice.statistic)
            if choice.threshold is not None:
                _check_threshold(statistic, choice.threshold, f"override for {column!r}")

    def resolve(self, column: str, kind: FeatureKind) -> tuple[Statistic, float]:
        """The statistic and threshold that apply to ``column`` of the given kind."""
        choice = self.overrides.get(column)
        statistic = get_statistic(choice.statistic if choice else self.statistic_for_kind[kind])
        _applicable(statistic, kind, f"column {column!r}")
        if choice is not None and choice.threshold is not None:
            return statistic, choice.threshold
        return statistic, self.threshold_for_statistic.get(
            statistic.name, statistic.default_threshold
        )

    def with_override(
        self, column: str, statistic: str, threshold: float | None = None
    ) -> Thresholds:
        """A copy where ``column`` is measured with ``statistic`` (and ``threshold``)."""
        overrides = {**self.overrides, column: FeatureThreshold(statistic, threshold)}
        return replace(self, overrides=overrides)

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic_for_kind": {
                kind.value: name for kind, name in self.statistic_for_kind.items()
            },
            "threshold_for_statistic": dict(self.threshold_for_statistic),
            "overrides": {
                column: {"statistic": choice.statistic, "threshold": choice.threshold}
                for column, choice in self.overrides.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Thresholds:
        """Defaults updated with whatever ``data`` sets (same shape as ``to_dict``)."""
        defaults = default_thresholds()
        unknown = set(data) - {"statistic_for_kind", "threshold_for_statistic", "overrides"}
        if unknown:
            raise DriftConfigError(f"unknown threshold setting(s): {', '.join(sorted(unknown))}")
        try:
            kinds = {
                FeatureKind(kind): str(name)
                for kind, name in data.get("statistic_for_kind", {}).items()
            }
            values = {
                str(name): float(value)
                for name, value in data.get("threshold_for_statistic", {}).items()
            }
            overrides = {
                str(column): FeatureThreshold(
                    str(choice["statistic"]),
                    None if choice.get("threshold") is None else float(choice["threshold"]),
                )
                for column, choice in data.get("overrides", {}).items()
            }
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DriftConfigError(f"malformed thresholds: {exc!r}") from exc
        return cls(
            statistic_for_kind={**defaults.statistic_for_kind, **kinds},
            threshold_for_statistic={**defaults.threshold_for_statistic, **values},
            overrides=overrides,
        )


def default_thresholds() -> Thresholds:
    """PSI (0.2) for numeric columns, Jensen-Shannon distance (0.1) for categorical ones.

    Distances rather than p-values by default: at monitoring volumes (up to millions of rows)
    a p-value flags differences too small to matter, while a distance keeps a fixed scale.
    KS and chi-square are one override away, with their conventional 0.05.
    """
    return Thresholds(
        statistic_for_kind={FeatureKind.NUMERIC: "psi", FeatureKind.CATEGORICAL: "jensen_shannon"},
        threshold_for_statistic={name: s.default_threshold for name, s in STATISTICS.items()},
    )


def _applicable(statistic: Statistic, kind: FeatureKind, where: str) -> None:
    if not statistic.applies_to(kind):
        usable = ", ".join(name for name, s in sorted(STATISTICS.items()) if s.applies_to(kind))
        raise DriftConfigError(
            f"{where}: statistic {statistic.name!r} does not apply to {kind.value} columns; "
            f"use one of: {usable}"
        )


def _check_threshold(statistic: Statistic, threshold: float, where: str) -> None:
    problem = statistic.direction.check_threshold(threshold)
    if problem:
        raise DriftConfigError(f"{where}: {threshold!r} {problem}")
