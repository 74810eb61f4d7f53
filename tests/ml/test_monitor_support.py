"""Shared builders for the monitor and retrain tests (this module holds no tests).

A tiny model world: three features (age, income, plan) and a 0/1 prediction (churn), a
baseline fitted on a seeded frame, capture lines in SageMaker's format, and a stack built
in the emulator by hand (versioned KMS-encrypted buckets, a retraining queue with a DLQ).
"""

from __future__ import annotations

import json
import types
import typing
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from infra.outputs import StackOutputs
from infra.sandbox.emulator import Emulator
from ml.drift import Baseline, fit_baseline
from ml.monitor import encode_record
from ml.stack import StackHandle

FIXTURES = Path(__file__).parent / "fixtures" / "capture"
PREFIX = "mlops-platform-test"
ENDPOINT = f"{PREFIX}-endpoint"
FEATURES = {"age": "numeric", "income": "numeric", "plan": "categorical"}
PLANS = ("basic", "pro", "enterprise")
WINDOW_START = datetime.fromisoformat("2024-05-01T10:00:00Z")
WINDOW_END = datetime.fromisoformat("2024-05-01T11:00:00Z")


def population(n: int, seed: int, *, shifted: bool = False) -> pd.DataFrame:
    """The training population, or a shifted one (older, richer, mostly enterprise, more
    churn) whose drift is far beyond every default threshold."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n) + (25 if shifted else 0)
    income = rng.normal(60_000, 15_000, n) * (1.8 if shifted else 1.0)
    plan_p = (0.1, 0.2, 0.7) if shifted else (0.5, 0.35, 0.15)
    return pd.DataFrame(
        {
            "age": age.round(1),
            "income": income.round(0),
            "plan": rng.choice(PLANS, size=n, p=plan_p),
            "churn": (rng.random(n) < (0.7 if shifted else 0.3)).astype(int),
        }
    )


def baseline() -> Baseline:
    return fit_baseline(
        population(2000, seed=7), FEATURES, prediction="churn", prediction_kind="categorical"
    )


def capture_lines(
    frame: pd.DataFrame,
    start: datetime,
    *,
    rows_per_request: int = 10,
    spacing: timedelta = timedelta(seconds=20),
    id_prefix: str = "gen",
    latency_ms: float | None = None,
) -> list[str]:
    """Capture lines (CSV batches) for the frame's rows, one request every `spacing`."""
    lines = []
    for number, begin in enumerate(range(0, len(frame), rows_per_request)):
        chunk = frame.iloc[begin : begin + rows_per_request]
        features = chunk[list(FEATURES)].to_csv(header=False, index=False)
        predictions = chunk["churn"].to_csv(header=False, index=False)
        lines.append(
            encode_record(
                input_data=features,
                input_content_type="text/csv",
                output_data=predictions,
                inference_time=start + number * spacing,
                inference_id=f"{id_prefix}-{number}",
                custom_attributes=None if latency_ms is None else f"model_latency_ms={latency_ms}",
            )
        )
    return lines


def make_outputs(**values: Any) -> StackOutputs:
    """StackOutputs with the given values, and a placeholder of the right type for every
    other field (so that fields added to the contract later do not break these tests)."""
    defaults: dict[str, Any] = {
        "stack": "test",
        "environment": "local",
        "region": "us-east-1",
        "account_id": "123456789012",
        "endpoint_name": ENDPOINT,
        "name_prefix": ENDPOINT.removesuffix("-endpoint"),
        "metrics_namespace": "MLOps",
        "drift_threshold": 0.2,
        "prediction_drift_threshold": 0.2,
        "min_accuracy": 0.8,
        "retraining_queue_url": "",
    }
    data = {**defaults, **values}
    for name, field in StackOutputs.model_fields.items():
        if name not in data and field.is_required():
            data[name] = _placeholder(field.annotation, name)
    return StackOutputs(**data)


def _placeholder(annotation: Any, name: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return []
    if origin in (typing.Union, types.UnionType):
        return None
    return {bool: False, int: 0, float: 0.0}.get(annotation, f"placeholder-{name}")


def deploy_stack(emulator: Emulator, **overrides: Any) -> StackHandle:
    """What the monitor needs of a stack, made by hand in the emulator under a name prefix
    of its own, so that tests share one emulator without resetting it (a reset costs
    seconds: moto rebuilds every backend) and still never see each other's resources."""
    prefix = f"mlops-t{uuid.uuid4().hex[:10]}"
    kms = emulator.client("kms")
    key_arn = kms.create_key(Description="data key")["KeyMetadata"]["Arn"]
    s3 = emulator.client("s3")
    names = {"models": f"{prefix}-models", "capture": f"{prefix}-capture"}
    for bucket in names.values():
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_arn,
                        }
                    }
                ]
            },
        )
    sqs = emulator.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{prefix}-retraining-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    max_receives = overrides.pop("max_receive_count", 3)
    queue = sqs.create_queue(
        QueueName=f"{prefix}-retraining",
        Attributes={
            "VisibilityTimeout": "3600",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}
            ),
        },
    )["QueueUrl"]
    outputs = make_outputs(
        models_bucket=names["models"],
        capture_bucket=names["capture"],
        data_kms_key_arn=key_arn,
        endpoint_name=f"{prefix}-endpoint",
        endpoint_capture_path=f"s3://{names['capture']}/{prefix}-endpoint/",
        retraining_queue_url=queue,
        **overrides,
    )
    handle = StackHandle(outputs, endpoint_url=emulator.url)
    handle.dlq_url = dlq  # type: ignore[attr-defined]  # for the DLQ assertions only
    return handle


def put_capture(
    handle: StackHandle, lines: list[str], hour: datetime, name: str, variant: str = "primary"
) -> str:
    """Upload capture lines where SageMaker would put them for that hour."""
    outputs = handle.outputs
    base = outputs.endpoint_capture_path.removeprefix(f"s3://{outputs.capture_bucket}/")
    key = f"{base}{outputs.endpoint_name}/{variant}/{hour:%Y/%m/%d/%H}/{name}.jsonl"
    body = "\n".join(lines) + "\n"
    handle.client("s3").put_object(Bucket=outputs.capture_bucket, Key=key, Body=body.encode())
    return key


def queued(handle: StackHandle, queue_url: str | None = None) -> list[dict[str, Any]]:
    """Every message visible on the queue now (received, then made visible again)."""
    sqs = handle.client("sqs")
    url = queue_url or handle.outputs.retraining_queue_url
    seen: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        seen += messages
    for message in seen:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return seen
