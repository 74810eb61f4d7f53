"""The project's reference dataset: synthetic customer churn, deterministic by seed.

    frame = make_churn(5000, seed=7)               # training data
    window = make_churn(1000, seed=8, drift=1.0)   # a window to monitor, drifted

Eight numeric features, two categorical ones, an id and a binary label (`churned`, about a
quarter positive) that depends on the features through a fixed logistic model, so a model
can learn it. Its schema is `CHURN_SCHEMA` (ml/data/schemas/churn.yaml).

`drift` is covariate shift for monitoring demos: 0 is the reference distribution, 1 moves
each of `DRIFTING_FEATURES` by about one standard deviation (the plan mix halfway
to premium-heavy); values between scale linearly, and beyond 1 numeric shifts keep growing.
`DERIVED_FEATURES` follow, less strongly. The label keeps its relation to the features, so
the churn rate moves with them. Every random draw of a seed is the same whatever the drift:
the same seed with another drift gives the same customers, with only the drifting and
derived features (and the label) changed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

CHURN_SCHEMA: Final = Path(__file__).parent / "schemas" / "churn.yaml"
ID: Final = "customer_id"
LABEL: Final = "churned"
NUMERIC_FEATURES: Final = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "data_usage_gb",
    "late_payments",
    "avg_session_minutes",
    "satisfaction_score",
)
CATEGORICAL_FEATURES: Final = ("plan", "region")
DRIFTING_FEATURES: Final = ("plan", "monthly_charges", "support_calls", "data_usage_gb")
"""The features `drift` shifts directly."""
DERIVED_FEATURES: Final = ("total_charges",)
"""Features computed from drifting ones (monthly charges x tenure), which move less."""
PLANS: Final = ("basic", "standard", "premium")
REGIONS: Final = ("north", "south", "east", "west")

_PLAN_SHARE: Final = np.array([0.5, 0.3, 0.2])
_DRIFTED_PLAN_SHARE: Final = np.array([0.2, 0.3, 0.5])
_PLAN_PRICE: Final = np.array([30.0, 60.0, 95.0])
_PLAN_EFFECT: Final = np.array([0.3, 0.0, -0.3])  # on the churn logit
_REGION_SHARE: Final = np.array([0.3, 0.25, 0.25, 0.2])
_REGION_EFFECT: Final = np.array([0.0, 0.2, 0.0, -0.1])


def make_churn(rows: int, seed: int, drift: float = 0.0) -> pd.DataFrame:
    """`rows` customers drawn with `seed`; `drift` >= 0 shifts `DRIFTING_FEATURES`."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if not (math.isfinite(drift) and drift >= 0):
        raise ValueError(f"drift must be a finite number >= 0, got {drift}")
    rng = np.random.default_rng(seed)
    # Base draws, always in this order, whatever the drift.
    plan_u = rng.random(rows)
    region = rng.choice(len(REGIONS), size=rows, p=_REGION_SHARE)
    tenure = np.minimum(rng.exponential(22.0, rows), 72).astype(np.int64)
    charge_noise = rng.normal(0.0, 8.0, rows)
    billing = rng.uniform(0.95, 1.05, rows)
    calls = rng.poisson(1.2, rows)
    usage = rng.gamma(2.0, 10.0, rows)
    late = rng.poisson(0.4, rows)
    session = rng.lognormal(3.0, 0.5, rows)
    satisfaction = rng.normal(3.6, 0.8, rows)
    label_u = rng.random(rows)
    # Extra support calls come from their own stream, so they never disturb the base draws.
    extra_calls = np.random.default_rng([seed, 1]).poisson(1.5 * drift, rows)

    share = _PLAN_SHARE + min(drift, 1.0) * 0.5 * (_DRIFTED_PLAN_SHARE - _PLAN_SHARE)
    plan = np.minimum(np.searchsorted(np.cumsum(share), plan_u, side="right"), len(PLANS) - 1)
    monthly = np.clip(_PLAN_PRICE[plan] + charge_noise + 15.0 * drift, 10.0, 250.0).round(2)
    total = (monthly * tenure * billing).round(2)
    calls = np.minimum(calls + extra_calls, 30)
    usage = np.minimum(usage * (1.0 + 0.7 * drift), 1000.0).round(2)
    late = np.minimum(late, 24)
    session = np.minimum(session, 600.0).round(1)
    satisfaction = np.clip(satisfaction, 1.0, 5.0).round(1)

    logit = (
        -1.5
        + 0.45 * (calls - 1.2)
        - 0.035 * (tenure - 22)
        + 0.6 * late
        + 0.012 * (monthly - 55.0)
        - 0.7 * (satisfaction - 3.6)
        + _PLAN_EFFECT[plan]
        + _REGION_EFFECT[region]
    )
    churned = (label_u < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(
        {
            ID: [f"C{seed}-{index:07d}" for index in range(rows)],
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": calls.astype(np.int64),
            "data_usage_gb": usage,
            "late_payments": late.astype(np.int64),
            "avg_session_minutes": session,
            "satisfaction_score": satisfaction,
            "plan": np.asarray(PLANS)[plan],
            "region": np.asarray(REGIONS)[region],
            LABEL: churned,
        }
    )
