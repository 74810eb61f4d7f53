"""The default pipeline for `mlops retrain --consume`: `ml.pipeline.run_retraining`.

Contract: `run_retraining(request: RetrainingRequest, stack: StackHandle) -> Any` runs one
retraining end to end (data, train, evaluate, register); returning is success, raising is
failure (the request stays on the queue for a retry).
"""

from __future__ import annotations

import importlib
from typing import Final, cast

from ml.retrain.consumer import Pipeline

MODULE: Final = "ml.pipeline"
FUNCTION: Final = "run_retraining"


class PipelineMissing(RuntimeError):
    """The training pipeline is not installed in this environment."""


def default_pipeline() -> Pipeline:
    try:
        module = importlib.import_module(MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in (MODULE, "ml"):
            raise  # the pipeline exists but one of its own imports is missing: show that
        raise PipelineMissing(
            f"the training pipeline is not installed: no module {MODULE!r}. Fix: install "
            f"the package that provides {MODULE}.{FUNCTION}, or pass a pipeline to consume()"
        ) from None
    function = getattr(module, FUNCTION, None)
    if not callable(function):
        raise PipelineMissing(
            f"the training pipeline is not installed: {MODULE} has no callable {FUNCTION!r}"
        )
    return cast(Pipeline, function)
