"""A pushed dataset version as training input, read through ``ml.data`` (imported lazily).

The version's manifest carries the schema it was validated with; its column roles say what
the model learns from: ``role: label`` is the target, ``role: feature`` columns are the
features, and ``id``/``other`` columns are dropped before anything leaves this process (a
customer id one-hot encoded would only memorise rows). Columns typed ``category``, ``string``
or ``bool`` are declared categorical, so that a category coded as numbers stays one after
its trip through a CSV channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ml.train.errors import TrainingInputError

if TYPE_CHECKING:
    import pandas as pd

    from ml.stack import StackHandle

_CATEGORICAL_TYPES: Final = frozenset({"category", "string", "bool"})


@dataclass(frozen=True)
class TrainingData:
    """The frame to train on and what its schema says about it."""

    frame: pd.DataFrame
    """Feature columns and the label only."""
    ref: str
    """``name@version`` with the version resolved (never ``latest``)."""
    label: str | None
    """The schema's label column, if it declares one."""
    categorical: tuple[str, ...]
    """Feature columns the schema types as category, string or bool."""

    def hyperparameter_defaults(self) -> dict[str, str]:
        """``label`` and ``categorical_features`` as the schema implies them."""
        defaults = {"categorical_features": ",".join(self.categorical)}
        if self.label:
            defaults["label"] = self.label
        return defaults


def load_training_data(handle: StackHandle, ref: str) -> TrainingData:
    """Resolve ``ref`` (``name@version`` or ``name@latest``) and load its validated frame."""
    from ml import data

    version = data.resolve(handle, ref)
    schema = data.schema_from_dict(version.schema_, f"the manifest of {version.ref}")
    features = list(schema.features)
    dated = [name for name in features if schema.columns[name].type == "datetime"]
    if dated:
        raise TrainingInputError(
            f"{version.ref}: feature(s) {', '.join(dated)} are datetimes, which the reference "
            "model cannot use; derive numeric features from them, or give them role: other"
        )
    frame = data.load_frame(handle, version.ref)
    keep = features + ([schema.label] if schema.label else [])
    categorical = tuple(n for n in features if schema.columns[n].type in _CATEGORICAL_TYPES)
    return TrainingData(
        frame=frame[keep], ref=version.ref, label=schema.label, categorical=categorical
    )
