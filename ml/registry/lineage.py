"""A model's lineage, stored on its model package as `CustomerMetadataProperties`.

Why there: moto 5.2.5 and SageMaker both store and return that map verbatim through
`DescribeModelPackage`, it needs no side files, and its values can be read without S3
access. `ModelMetrics` only holds S3 *pointers* to reports, so the metric values
themselves go in the map too, one entry per metric (`mlops:metric:<name>`), written with
`repr(float)` so they round-trip exactly.

SageMaker limits the map to 50 entries; keys 1-128 and values 1-256 characters drawn from
letters, digits, spaces and ``_.:/=+-@``. Everything is checked here, before any call, so an
unacceptable lineage never produces a half-registered model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from ml.registry.errors import RegistryInputError

KEY_DATASET: Final = "mlops:dataset"
KEY_DATASET_VERSION: Final = "mlops:datasetVersion"
KEY_GIT_COMMIT: Final = "mlops:gitCommit"
KEY_TRAINING_JOB: Final = "mlops:trainingJob"
KEY_IMAGE: Final = "mlops:image"
METRIC_PREFIX: Final = "mlops:metric:"
_FIXED_KEYS: Final = (KEY_DATASET, KEY_DATASET_VERSION, KEY_GIT_COMMIT, KEY_TRAINING_JOB, KEY_IMAGE)

MAX_PROPERTIES: Final = 50
MAX_KEY_LENGTH: Final = 128
MAX_VALUE_LENGTH: Final = 256
MAX_METRICS: Final = MAX_PROPERTIES - len(_FIXED_KEYS)
# The service model's pattern for keys and values: letters, separators (spaces), numbers
# and _.:/=+-@ (Python's re has no \p{..}; str.isalpha/isnumeric cover the same classes).
_ALLOWED_PUNCTUATION: Final = frozenset("_.:/=+-@ ")


class DatasetLike(Protocol):
    """Anything naming a dataset version by `name` and `version` attributes."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...


@dataclass(frozen=True)
class DatasetRef:
    """A dataset and the version the model was trained on."""

    name: str
    version: str

    @classmethod
    def of(cls, value: object) -> DatasetRef:
        """Accepts a DatasetRef, `ml.data`'s `DatasetVersion` (`.dataset`, `.version`), any
        object with `.name` and `.version`, or a `"name@version"` reference."""
        if isinstance(value, DatasetRef):
            return value
        if isinstance(value, str):
            name, at, version = value.rpartition("@")
            if at and name and version:
                return cls(name, version)
        else:
            label = getattr(value, "dataset", None) or getattr(value, "name", None)
            number = getattr(value, "version", None)
            if isinstance(label, str) and isinstance(number, str) and label and number:
                return cls(label, number)
        raise RegistryInputError(
            f"dataset_ref {value!r} names no dataset version. Fix: pass a DatasetRef(name, "
            "version), the DatasetVersion from `mlops data push`, or 'name@version'"
        )


@dataclass(frozen=True)
class Lineage:
    """Where a model came from: data, code, job, serving image, and how well it did."""

    dataset: DatasetRef
    git_commit: str
    training_job: str
    image_uri: str
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_properties(self) -> dict[str, str]:
        """The `CustomerMetadataProperties` map; raises `RegistryInputError` if SageMaker
        would refuse it (too many metrics, a value too long or with a forbidden character)."""
        if len(self.metrics) > MAX_METRICS:
            raise RegistryInputError(
                f"{len(self.metrics)} metrics given; a model package holds at most "
                f"{MAX_METRICS} (SageMaker's {MAX_PROPERTIES}-entry metadata limit less "
                f"{len(_FIXED_KEYS)} lineage entries). Fix: register the gate metric and a "
                "few headline metrics only"
            )
        properties: dict[str, str] = {
            KEY_DATASET: self.dataset.name,
            KEY_DATASET_VERSION: self.dataset.version,
            KEY_GIT_COMMIT: self.git_commit,
            KEY_TRAINING_JOB: self.training_job,
            KEY_IMAGE: self.image_uri,
        }
        for name, number in self.metrics.items():
            properties[f"{METRIC_PREFIX}{name}"] = _metric_text(name, number)
        for key, value in properties.items():
            _check_entry(key, value)
        return properties

    @classmethod
    def from_properties(cls, properties: Mapping[str, str]) -> Lineage | None:
        """The lineage recorded by `to_properties`, or None for a package registered without
        it (by hand, or by another tool)."""
        if not all(key in properties for key in _FIXED_KEYS):
            return None
        metrics: dict[str, float] = {}
        for key, text in properties.items():
            if key.startswith(METRIC_PREFIX):
                try:
                    metrics[key.removeprefix(METRIC_PREFIX)] = float(text)
                except ValueError:
                    continue  # edited by hand into something else: not a metric we can gate on
        return cls(
            dataset=DatasetRef(properties[KEY_DATASET], properties[KEY_DATASET_VERSION]),
            git_commit=properties[KEY_GIT_COMMIT],
            training_job=properties[KEY_TRAINING_JOB],
            image_uri=properties[KEY_IMAGE],
            metrics=metrics,
        )


def _metric_text(name: str, value: float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RegistryInputError(
            f"metric {name!r} is {value!r} ({type(value).__name__}), not a number. Fix: pass "
            "metrics as {name: float}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise RegistryInputError(
            f"metric {name!r} is {number}, which cannot be compared by the evaluation gate. "
            "Fix: check the evaluation that produced it"
        )
    return repr(number)


def _check_entry(key: str, value: str) -> None:
    where = f"lineage entry {key!r}"
    if not isinstance(value, str) or not value:
        raise RegistryInputError(f"{where} is empty. Fix: pass a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise RegistryInputError(
            f"{where}: the key is {len(key)} characters, SageMaker allows {MAX_KEY_LENGTH}. "
            "Fix: shorten the metric name"
        )
    if len(value) > MAX_VALUE_LENGTH:
        raise RegistryInputError(
            f"{where} is {len(value)} characters long, SageMaker allows {MAX_VALUE_LENGTH}: "
            f"{value[:60]!r}... Fix: shorten it"
        )
    for text, part in ((key, "key"), (value, "value")):
        bad = sorted({ch for ch in text if not _allowed(ch)})
        if bad:
            raise RegistryInputError(
                f"{where}: the {part} {text!r} contains {''.join(bad)!r}; SageMaker allows "
                "only letters, digits, spaces and _.:/=+-@ in model package metadata. Fix: "
                "rename it without those characters"
            )


def _allowed(ch: str) -> bool:
    return ch.isalpha() or ch.isnumeric() or ch in _ALLOWED_PUNCTUATION


_S3_URL = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<key>.+)")


def check_model_data_url(url: str) -> None:
    """`model_data_url` must be an s3://bucket/key URL (what SageMaker downloads)."""
    if not _S3_URL.fullmatch(url or ""):
        raise RegistryInputError(
            f"model_data_url {url!r} is not an s3://bucket/key URL. Fix: pass the S3 URL of "
            "the training job's model.tar.gz"
        )
