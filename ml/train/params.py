"""Training hyperparameters: typed, validated, and round-tripped through SageMaker's strings.

SageMaker hands a job its hyperparameters as a JSON object of *strings*
(``/opt/ml/input/config/hyperparameters.json``); the sagemaker-training toolkit's ``SM_HPS``
may carry them decoded. ``TrainParams.from_hyperparameters`` accepts either (pydantic's lax
mode turns "100" into 100), and ``to_hyperparameters`` writes every field back as a string, so
that a job's record holds its complete configuration, defaults included.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ml.train.errors import TrainingInputError

# Keys SageMaker's own SDKs add for their framework containers; not ours to validate.
_PLATFORM_PREFIX = "sagemaker_"


class Algorithm(enum.StrEnum):
    GRADIENT_BOOSTING = "gradient_boosting"
    LOGISTIC_REGRESSION = "logistic_regression"


class TrainParams(BaseModel):
    """Hyperparameters of the reference model; unknown names are rejected (typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Algorithm = Field(
        Algorithm.GRADIENT_BOOSTING, description="gradient_boosting or logistic_regression."
    )
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seeds the split and the model.")
    label: str = Field("label", min_length=1, description="Binary target column.")
    holdout_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of rows held out when there is no validation channel."
    )
    categorical_features: str = Field(
        "", description="Comma-separated columns to treat as categorical even if numeric."
    )
    n_estimators: int = Field(100, ge=1, le=5000, description="Gradient boosting: trees.")
    learning_rate: float = Field(0.1, gt=0, le=1, description="Gradient boosting: shrinkage.")
    max_depth: int = Field(3, ge=1, le=32, description="Gradient boosting: depth of a tree.")
    c: float = Field(1.0, gt=0, description="Logistic regression: inverse regularisation.")
    max_iter: int = Field(1000, ge=1, le=100_000, description="Logistic regression: iterations.")

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.categorical_features.split(",") if n.strip())

    @classmethod
    def from_hyperparameters(cls, values: Mapping[str, Any]) -> TrainParams:
        """Parse hyperparameters given as strings (SageMaker) or values (SM_HPS, Python)."""
        ours = {k: v for k, v in values.items() if not k.startswith(_PLATFORM_PREFIX)}
        try:
            return cls.model_validate(ours)
        except ValidationError as exc:
            raise TrainingInputError(_explain(exc)) from None

    def to_hyperparameters(self) -> dict[str, str]:
        """Every field as SageMaker wants it: a string per name."""
        return {name: str(value) for name, value in self.model_dump(mode="json").items()}


def parse_param_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` from the command line as a dict; each key once."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TrainingInputError(
                f"--param {pair!r} is not key=value; write e.g. --param n_estimators=200"
            )
        if key in parsed:
            raise TrainingInputError(f"--param {key} is given twice; keep one")
        parsed[key] = value.strip()
    return parsed


def _explain(exc: ValidationError) -> str:
    known = ", ".join(TrainParams.model_fields)
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "hyperparameters"
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown hyperparameter {name!r}")
        else:
            problems.append(f"hyperparameter {name}={error.get('input')!r}: {error['msg']}")
    return f"{'; '.join(problems)} (known hyperparameters: {known})"
