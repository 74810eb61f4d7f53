"""`mlops predict`: send rows to the stack's endpoint and print the predictions.

A sandbox stack is served by a local process (`ml.serve.local`, recorded in
`.mlops/sandbox/<stack>/serving/serving.json`); any other stack by its SageMaker endpoint
(`outputs.endpoint_name`), through `sagemaker-runtime InvokeEndpoint`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Final

import typer

from ml.cli.output import BadInput, CheckFailed, console, exits

SERVING_SUBDIR: Final = "serving"
INFERENCE_ID_HEADER: Final = "X-Amzn-SageMaker-Inference-Id"
_TYPES: Final = {".csv": "text/csv", ".json": "application/json"}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def serving_dir(stack: str, root: Path | None = None) -> Path:
    """Where a sandbox stack's local endpoint is recorded (what deployment passes as
    `start_local_endpoint(..., state_dir=...)`)."""
    from infra.sandbox.sandbox import sandbox_dir

    return sandbox_dir(stack, root) / SERVING_SUBDIR


STACK = typer.Option(..., "--stack", "-s", help="Stack name.")
FILE = typer.Option(
    None, "--file", "-f", help="Rows to score: .csv (no header) or .json (instances)."
)
JSON_TEXT = typer.Option(
    None, "--json", help='Rows as JSON: \'{"instances": [{"feature": value}]}\''
)
INFERENCE_ID = typer.Option(
    None, "--inference-id", help="Id recorded with the captured request (ground truth joins)."
)
ACCEPT = typer.Option(
    None, "--accept", help="Response type: text/csv or application/json (default: as sent)."
)


@exits
def predict(
    stack: str = STACK,
    file: Path | None = FILE,
    json_text: str | None = JSON_TEXT,
    inference_id: str | None = INFERENCE_ID,
    accept: str | None = ACCEPT,
) -> None:
    """Score rows with the model the stack serves."""
    body, content_type = _payload(file, json_text)
    handle = _handle(stack)
    if handle.is_sandbox:
        answer = _invoke_local(stack, body, content_type, accept, inference_id)
    else:
        answer = _invoke_sagemaker(handle, body, content_type, accept, inference_id)
    console.out(answer.decode("utf-8", errors="replace").rstrip("\n"), highlight=False)


def _payload(file: Path | None, json_text: str | None) -> tuple[bytes, str]:
    if (file is None) == (json_text is None):
        raise BadInput("pass exactly one of --file rows.csv|rows.json and --json '...'")
    if json_text is not None:
        try:
            json.loads(json_text)
        except json.JSONDecodeError as error:
            raise BadInput(f"--json is not valid JSON: {error}") from None
        return json_text.encode(), "application/json"
    assert file is not None
    content_type = _TYPES.get(file.suffix.lower())
    if content_type is None:
        raise BadInput(
            f"--file {file}: unknown type {file.suffix!r}. Fix: name it *.csv (rows without a "
            'header) or *.json ({"instances": [...]})'
        )
    try:
        return file.read_bytes(), content_type
    except OSError as error:
        raise BadInput(f"--file {file}: cannot read it ({error.strerror})") from None


def _handle(stack: str) -> Any:
    from ml.stack import StackNotDeployed, open_stack

    try:
        return open_stack(stack)
    except StackNotDeployed as error:
        raise BadInput(str(error)) from None


def _invoke_local(
    stack: str, body: bytes, content_type: str, accept: str | None, inference_id: str | None
) -> bytes:
    from ml.serve.local import attach

    state_dir = serving_dir(stack)
    endpoint = attach(state_dir)
    if endpoint is None:
        raise BadInput(
            f"nothing is deployed on sandbox stack {stack!r}: no local endpoint is recorded "
            f"in {state_dir}. Fix: deploy a model to the stack first (`mlops deploy --stack "
            f"{stack}`, which starts it)"
        )
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    if inference_id:
        headers[INFERENCE_ID_HEADER] = inference_id
    request = urllib.request.Request(
        f"{endpoint.url}/invocations", data=body, headers=headers, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=60) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        message = error.read().decode("utf-8", errors="replace")
        if 400 <= error.code < 500:
            raise BadInput(
                f"the endpoint refused the request (HTTP {error.code}): {message}"
            ) from None
        raise CheckFailed(
            f"the endpoint failed (HTTP {error.code}): {message}. Its log: {endpoint.log}"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        raise CheckFailed(
            f"the local endpoint at {endpoint.url} did not answer ({error}). Its log: "
            f"{endpoint.log}"
        ) from None


def _invoke_sagemaker(
    handle: Any, body: bytes, content_type: str, accept: str | None, inference_id: str | None
) -> bytes:
    from botocore.exceptions import ClientError

    outputs = handle.outputs
    if not outputs.endpoint_deployed:
        raise BadInput(
            f"nothing is deployed on stack {outputs.stack!r}: its config serves no model "
            "(endpoint_deployed is false). Fix: set endpointModelPackageArn (or "
            "endpointModelImage and endpointModelDataKey) in the stack file and deploy"
        )
    kwargs: dict[str, Any] = {
        "EndpointName": outputs.endpoint_name,
        "Body": body,
        "ContentType": content_type,
        "Accept": accept or content_type,
    }
    if inference_id:
        kwargs["InferenceId"] = inference_id
    try:
        response = handle.client("sagemaker-runtime").invoke_endpoint(**kwargs)
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "")
        message = error.response.get("OriginalMessage") or details.get("Message", str(error))
        if code in ("ValidationError", "ValidationException", "ModelError"):
            raise BadInput(
                f"endpoint {outputs.endpoint_name!r} refused the request ({code}): {message}"
            ) from None
        raise CheckFailed(
            f"endpoint {outputs.endpoint_name!r} failed ({code}): {message}"
        ) from None
    return bytes(response["Body"].read())
