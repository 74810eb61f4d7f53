"""Typed errors of the drift package: each says what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable


class DriftError(Exception):
    """Base class of every error raised by ``ml.drift``."""


class UnknownStatisticError(DriftError, LookupError):
    """A statistic name that is not in the registry."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(sorted(known))
        super().__init__(
            f"unknown drift statistic {name!r}; known statistics: {', '.join(self.known)}"
        )


class MissingFeatureError(DriftError, LookupError):
    """Columns the baseline expects are absent from the data frame given."""

    def __init__(self, missing: Iterable[str], where: str) -> None:
        self.missing = tuple(missing)
        names = ", ".join(repr(name) for name in self.missing)
        super().__init__(
            f"{where} lacks column(s) {names} that the drift baseline expects; "
            "pass a frame with every baseline feature (and the prediction column)"
        )


class DriftConfigError(DriftError, ValueError):
    """Thresholds or arguments that cannot be used (bad value, wrong kind, unknown feature)."""


class DriftDataError(DriftError, ValueError):
    """Data that cannot be summarised (empty frame, text in a numeric column, no values)."""


class BaselineFormatError(DriftError, ValueError):
    """A serialised baseline that is not valid (wrong schema, missing or mistyped field)."""
