"""The training pipeline: push and validate data, train, evaluate, register, deploy.

Each step records its result in `.mlops/pipeline/<stack>/<run-id>.json` as it finishes, so
a run stopped half way resumes where it stopped (`--resume RUN_ID`) and a step that
already ran is never repeated. Every step is idempotent on its own too: pushing the same
bytes returns the existing dataset version, and a package is registered once per run.

The gate compares the candidate with the champion on the SAME holdout (the champion is
re-scored on the candidate's holdout), so a model trained on today's data is judged
against what serves today, not against a number measured on last month's data.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.stack import StackHandle, open_stack

log = logging.getLogger(__name__)

STEPS = ("data", "train", "evaluate", "register", "deploy")
DEFAULT_DATASET = "churn"


class PipelineInputError(ValueError):
    """Bad input to the pipeline (unknown run, missing data file); exit 2."""


class GateFailed(RuntimeError):
    """The candidate did not pass the evaluation gate: nothing was registered; exit 1."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


@dataclass
class PipelineRun:
    run_id: str
    stack: str
    dataset: str
    started: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = "running"  # running, passed, gate-failed, awaiting-approval, deployed

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "stack": self.stack,
            "dataset": self.dataset,
            "started": self.started,
            "status": self.status,
            "steps": self.steps,
        }


def runs_dir(stack: str, root: Path | None = None) -> Path:
    from infra.config import repo_root

    return (root or repo_root()) / ".mlops" / "pipeline" / stack


def _save(run: PipelineRun, root: Path | None) -> None:
    directory = runs_dir(run.stack, root)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{run.run_id}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(run.to_json(), indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def load_run(stack: str, run_id: str, root: Path | None = None) -> PipelineRun:
    path = runs_dir(stack, root) / f"{run_id}.json"
    if not path.is_file():
        known = sorted(p.stem for p in runs_dir(stack, root).glob("*.json"))
        raise PipelineInputError(
            f"no pipeline run {run_id!r} for stack {stack!r}; known runs: "
            f"{', '.join(known) or 'none'}"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    return PipelineRun(
        run_id=data["run_id"],
        stack=data["stack"],
        dataset=data["dataset"],
        started=data["started"],
        steps=data["steps"],
        status=data["status"],
    )


def run_pipeline(
    stack: str,
    *,
    data: Path | None = None,
    dataset: str = DEFAULT_DATASET,
    schema: Path | None = None,
    params: dict[str, str] | None = None,
    image_tag: str = "latest",
    resume: str | None = None,
    root: Path | None = None,
    deploy: bool = True,
    capture_flush_seconds: float = 60.0,
    on_step: Callable[[str, str], None] = lambda step, text: log.info("%s: %s", step, text),
) -> PipelineRun:
    """Run (or resume) the pipeline on `stack`; returns the run with every step's result."""
    if resume:
        run = load_run(stack, resume, root)
        # Resuming re-decides what is left: e.g. a package approved since the run stopped
        # at "awaiting-approval" is deployed now (deploy refuses one still pending).
        run.status = "running"
        evaluated = run.steps.get("evaluate")
        if evaluated is not None and not evaluated["passed"]:
            raise GateFailed(evaluated["report"])  # a rejected candidate stays rejected
    else:
        if data is not None and not Path(data).is_file():
            raise PipelineInputError(f"data file {data} does not exist")
        stamp = datetime.now(UTC)
        run = PipelineRun(
            run_id=f"{stamp:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
            stack=stack,
            dataset=dataset,
            started=stamp.isoformat(),
        )
    handle = open_stack(stack, root)
    context = _Context(handle, run, root, data, schema, params or {}, image_tag,
                       capture_flush_seconds)  # fmt: skip
    for step in STEPS:
        if step in run.steps:
            on_step(step, "done earlier in this run, skipped")
            continue
        if step == "deploy" and (not deploy or run.status == "awaiting-approval"):
            break
        started = time.monotonic()
        result = _STEP_FUNCTIONS[step](context)
        result["seconds"] = round(time.monotonic() - started, 2)
        run.steps[step] = result
        _save(run, root)
        on_step(step, result.get("summary", "ok"))
        if run.status in ("gate-failed",):
            break
    if run.status == "running":
        run.status = "deployed" if "deploy" in run.steps else "passed"
    _save(run, root)
    if run.status == "gate-failed":
        raise GateFailed(run.steps["evaluate"]["report"])
    return run


@dataclass
class _Context:
    handle: StackHandle
    run: PipelineRun
    root: Path | None
    data: Path | None
    schema: Path | None
    params: dict[str, str]
    image_tag: str
    capture_flush_seconds: float


def _step_data(ctx: _Context) -> dict[str, Any]:
    from ml.data import push
    from ml.data.reference import CHURN_SCHEMA

    if ctx.data is None:
        return {"ref": f"{ctx.run.dataset}@latest", "summary": "using the latest version"}
    version = push(ctx.handle, ctx.data, ctx.run.dataset, ctx.schema or CHURN_SCHEMA)
    ref = f"{version.dataset}@{version.version}"
    return {"ref": ref, "rows": version.rows, "sha256": version.sha256, "summary": ref}


def _step_train(ctx: _Context) -> dict[str, Any]:
    from ml.train import train
    from ml.train.dataset import load_training_data

    data = load_training_data(ctx.handle, ctx.run.steps["data"]["ref"])
    params = {**data.hyperparameter_defaults(), **ctx.params}
    result = train(ctx.handle, data.frame, dataset=data.ref, params=params)
    return {
        "job": result.job_name,
        "artifact": result.model_artifact,
        "metrics": result.metrics,
        "dataset": data.ref,
        "git_commit": result.git_commit,
        "params": result.params.to_hyperparameters(),
        "summary": f"{result.job_name}: auc {result.metrics.get('auc', float('nan')):.3f}",
    }


def _step_evaluate(ctx: _Context) -> dict[str, Any]:
    from ml.evaluate import evaluate_gate, gate_thresholds
    from ml.registry import champion

    trained = ctx.run.steps["train"]
    current = champion(ctx.handle)
    champion_metrics = None
    if current is not None:
        champion_metrics = _rescore(ctx, current.model_data_url, trained)
    verdict = evaluate_gate(
        trained["metrics"], gate_thresholds(ctx.handle.outputs), champion_metrics
    )
    if not verdict.passed:
        ctx.run.status = "gate-failed"
    return {
        "passed": verdict.passed,
        "champion": current.arn if current else None,
        "champion_metrics": champion_metrics,
        "report": verdict.summary(),
        "summary": verdict.summary().splitlines()[0],
    }


def _rescore(ctx: _Context, model_data_url: str, trained: dict[str, Any]) -> dict[str, float]:
    """The champion's metrics on the candidate's holdout (same rows, same seed)."""
    from ml.evaluate import holdout_metrics
    from ml.train.artifacts import load_model, unpack_archive
    from ml.train.dataset import load_training_data
    from ml.train.model import split_holdout
    from ml.train.params import TrainParams

    params = TrainParams.from_hyperparameters(trained["params"])
    data = load_training_data(ctx.handle, trained["dataset"])
    _, holdout = split_holdout(data.frame, params)
    bucket, _, key = model_data_url.removeprefix("s3://").partition("/")
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "model.tar.gz"
        ctx.handle.client("s3").download_file(bucket, key, str(archive))
        model = load_model(unpack_archive(archive, Path(tmp) / "model"))
    return holdout_metrics(model, holdout, params.label)


def _step_register(ctx: _Context) -> dict[str, Any]:
    from ml.registry import ApprovalStatus, register

    trained = ctx.run.steps["train"]
    package = register(
        ctx.handle,
        model_data_url=trained["artifact"],
        image_uri=f"{ctx.handle.outputs.ecr_repository_url}:{ctx.image_tag}",
        metrics=trained["metrics"],
        dataset_ref=trained["dataset"],
        git_commit=trained["git_commit"],
        training_job=trained["job"],
    )
    if package.status is not ApprovalStatus.APPROVED:
        ctx.run.status = "awaiting-approval"
    return {
        "package": package.arn,
        "status": package.status.value,
        "summary": f"{package.arn} ({package.status.value})",
    }


def _step_deploy(ctx: _Context) -> dict[str, Any]:
    from ml.deploy import deploy

    package = ctx.run.steps["register"]["package"]
    result = deploy(
        ctx.run.stack,
        package,
        root=ctx.root,
        capture_flush_seconds=ctx.capture_flush_seconds,
    )
    return {
        "package": package,
        "endpoint": result.endpoint,
        "url": result.url,
        "previous": result.previous,
        "summary": f"{result.endpoint} serves {package}",
    }


_STEP_FUNCTIONS: dict[str, Callable[[_Context], dict[str, Any]]] = {
    "data": _step_data,
    "train": _step_train,
    "evaluate": _step_evaluate,
    "register": _step_register,
    "deploy": _step_deploy,
}


def run_retraining(request: Any, handle: StackHandle) -> None:
    """What `mlops retrain --consume` runs for each request: the pipeline on the latest data.

    A request older than the current champion is already answered (the monitor and the
    stack's alarm rule can both ask for the same episode): it is acknowledged, not rerun.
    """
    from ml.registry import champion

    current = champion(handle)
    asked = getattr(request, "time", None)
    if current is not None and asked is not None and current.created >= asked:
        log.info("retraining request %s predates the champion; nothing to do", request.key)
        return
    recorded = getattr(request, "dataset_version", None) or ""
    dataset = recorded.split("@")[0] if "@" in recorded else DEFAULT_DATASET
    # A sandbox promotes in place. On a real stack the served model is a reviewed change to
    # the stack file (a pull request setting endpointModelPackageArn, then deploy.yml), so
    # retraining stops at the registry instead of running `pulumi up` from a job.
    run_pipeline(handle.outputs.stack, dataset=dataset, deploy=handle.is_sandbox)
