"""SageMaker's training container contract, for both sides of it.

Inside a SageMaker training job the platform lays out ``/opt/ml``::

    /opt/ml/input/config/hyperparameters.json   the job's hyperparameters, all strings
    /opt/ml/input/config/inputdataconfig.json   each channel's content type and input mode
    /opt/ml/input/config/resourceconfig.json    the hosts of the job (one: algo-1)
    /opt/ml/input/data/<channel>/                one directory per input channel
    /opt/ml/model/                               packed into <output path>/<job>/output/model.tar.gz
    /opt/ml/output/data/                         packed into .../output/output.tar.gz
    /opt/ml/output/failure                       the failure reason DescribeTrainingJob reports

and framework containers (the sagemaker-training toolkit) also export ``SM_MODEL_DIR``,
``SM_CHANNEL_<NAME>``, ``SM_OUTPUT_DATA_DIR``, ``SM_HPS`` and friends. ``TrainingEnvironment``
reads a job's view of it (the variables when set, else the ``/opt/ml`` paths), so one entry
point runs in a bring-your-own image, a framework image or locally. ``ContainerLayout`` builds
the same tree anywhere, for the local runner.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

OPT_ML: Final = Path("/opt/ml")
HYPERPARAMETERS_FILE: Final = "hyperparameters.json"
INPUT_DATA_CONFIG_FILE: Final = "inputdataconfig.json"
RESOURCE_CONFIG_FILE: Final = "resourceconfig.json"
CHANNEL_CONTENT_TYPE: Final = "text/csv"
FAILURE_FILE: Final = "failure"
TRAIN_CHANNEL: Final = "train"
VALIDATION_CHANNEL: Final = "validation"
_CHANNEL_VAR: Final = "SM_CHANNEL_"


@dataclass(frozen=True)
class ContainerLayout:
    """The ``/opt/ml`` tree rooted anywhere (``root`` is ``/opt/ml`` inside SageMaker)."""

    root: Path = OPT_ML

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.input_dir / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.config_dir / HYPERPARAMETERS_FILE

    @property
    def data_dir(self) -> Path:
        return self.input_dir / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / FAILURE_FILE

    def create(
        self, channels: Iterable[str], hyperparameters: Mapping[str, str]
    ) -> ContainerLayout:
        """Make the directories and write the config files as SageMaker does (single host,
        File mode, CSV channels; hyperparameter values as strings)."""
        names = sorted(channels)
        for directory in (self.config_dir, self.model_dir, self.output_data_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for channel in names:
            self.channel_dir(channel).mkdir(parents=True, exist_ok=True)
        configs: dict[str, Any] = {
            HYPERPARAMETERS_FILE: {k: str(v) for k, v in hyperparameters.items()},
            INPUT_DATA_CONFIG_FILE: {
                name: {
                    "ContentType": CHANNEL_CONTENT_TYPE,
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
                for name in names
            },
            RESOURCE_CONFIG_FILE: {
                "current_host": "algo-1",
                "hosts": ["algo-1"],
                "network_interface_name": "eth0",
            },
        }
        for name, content in configs.items():
            (self.config_dir / name).write_text(
                json.dumps(content, indent=2, sort_keys=True), encoding="utf-8"
            )
        return self

    def environment(self, channels: Iterable[str]) -> dict[str, str]:
        """The variables the sagemaker-training toolkit sets for this layout.

        ``SM_HPS`` is deliberately absent: hyperparameters come from the file, as in a
        bring-your-own container, so the local run exercises the platform's own contract.
        """
        names = sorted(channels)
        env = {
            "SM_MODEL_DIR": str(self.model_dir),
            "SM_OUTPUT_DIR": str(self.output_dir),
            "SM_OUTPUT_DATA_DIR": str(self.output_data_dir),
            "SM_INPUT_DIR": str(self.input_dir),
            "SM_INPUT_CONFIG_DIR": str(self.config_dir),
            "SM_CHANNELS": json.dumps(names),
        }
        env.update({f"{_CHANNEL_VAR}{name.upper()}": str(self.channel_dir(name)) for name in names})
        return env


@dataclass(frozen=True)
class TrainingEnvironment:
    """What a running job sees: where its inputs are, where outputs go, its hyperparameters."""

    model_dir: Path
    output_dir: Path
    output_data_dir: Path
    channels: Mapping[str, Path]
    """Channel name (lower case) to its directory, for the channels that exist."""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failure_file(self) -> Path:
        return self.output_dir / FAILURE_FILE

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, root: Path = OPT_ML
    ) -> TrainingEnvironment:
        """Resolve from ``SM_*`` variables where set, else from the layout under ``root``."""
        env = os.environ if environ is None else environ
        layout = ContainerLayout(root)
        input_dir = Path(env.get("SM_INPUT_DIR", layout.input_dir))
        config_dir = Path(env.get("SM_INPUT_CONFIG_DIR", input_dir / "config"))
        return cls(
            model_dir=Path(env.get("SM_MODEL_DIR", layout.model_dir)),
            output_dir=Path(env.get("SM_OUTPUT_DIR", layout.output_dir)),
            output_data_dir=Path(env.get("SM_OUTPUT_DATA_DIR", layout.output_data_dir)),
            channels=_channels(env, input_dir / "data"),
            hyperparameters=_hyperparameters(env, config_dir / HYPERPARAMETERS_FILE),
        )


def _channels(env: Mapping[str, str], data_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if data_dir.is_dir():  # SageMaker itself only provides the directories
        found.update({p.name.lower(): p for p in sorted(data_dir.iterdir()) if p.is_dir()})
    for name, value in env.items():  # the toolkit's variables win where both exist
        if name.startswith(_CHANNEL_VAR) and name != "SM_CHANNELS":
            found[name.removeprefix(_CHANNEL_VAR).lower()] = Path(value)
    return found


def _hyperparameters(env: Mapping[str, str], path: Path) -> dict[str, Any]:
    if env.get("SM_HPS"):
        decoded = json.loads(env["SM_HPS"])
        if not isinstance(decoded, dict):
            raise ValueError(f"SM_HPS is not a JSON object: {env['SM_HPS'][:80]!r}")
        return decoded
    if path.is_file():
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} is not a JSON object")
        return loaded
    return {}
