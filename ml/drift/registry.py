"""The drift statistics by name: the one place that lists them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ml.drift.base import Statistic
from ml.drift.chi_square import CHI_SQUARE
from ml.drift.errors import UnknownStatisticError
from ml.drift.jensen_shannon import JENSEN_SHANNON
from ml.drift.ks import KS
from ml.drift.psi import PSI

STATISTICS: Final[Mapping[str, Statistic]] = MappingProxyType(
    {statistic.name: statistic for statistic in (PSI, KS, CHI_SQUARE, JENSEN_SHANNON)}
)


def statistic_names() -> tuple[str, ...]:
    return tuple(sorted(STATISTICS))


def get_statistic(name: str) -> Statistic:
    """The statistic called ``name``; ``UnknownStatisticError`` lists the known names."""
    try:
        return STATISTICS[name]
    except KeyError:
        raise UnknownStatisticError(name, STATISTICS) from None
