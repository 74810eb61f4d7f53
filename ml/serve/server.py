"""`python -m ml.serve`: run the inference server (uvicorn) in the foreground.

In a SageMaker container (`docker run <image> serve`; the leading `serve` is accepted):

    python -m ml.serve serve                 # model in /opt/ml/model, port $SAGEMAKER_BIND_TO_PORT

SageMaker captures data itself there, so the server captures nothing unless it is told
which stack it serves. Elsewhere (sandbox, Kubernetes) it captures like SageMaker would:

    python -m ml.serve --model-data s3://.../model.tar.gz --stack dev --port 8080
    python -m ml.serve --model-dir DIR --outputs-file outputs.json --aws-endpoint-url URL

Why uvicorn + Starlette: uvicorn is a production ASGI server (Flask's bundled server is a
development server by its own documentation), it turns SIGTERM into a graceful shutdown that
runs the app's lifespan hook (where capture records are flushed), and both are small,
actively maintained, and pure Python besides uvicorn's optional speedups.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Final

from infra.outputs import StackOutputs
from ml.serve.capture import VARIANT, CaptureSettings, CaptureWriter
from ml.serve.metrics import ServingMetrics
from ml.serve.model import DEFAULT_MODEL_DIR, ServedModel
from ml.stack import StackHandle

log = logging.getLogger("ml.serve")

DEFAULT_PORT: Final = 8080
PORT_VARIABLE: Final = "SAGEMAKER_BIND_TO_PORT"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ml.serve",
        description="Serve a model with SageMaker's inference container contract.",
    )
    parser.add_argument("command", nargs="?", choices=["serve"], help="SageMaker passes 'serve'")
    parser.add_argument(
        "--model-dir", type=Path, help=f"unpacked model (default {DEFAULT_MODEL_DIR})"
    )
    parser.add_argument("--model-data", help="s3:// URL of model.tar.gz, fetched at startup")
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default all)")
    parser.add_argument("--port", type=int, help=f"default ${PORT_VARIABLE}, else {DEFAULT_PORT}")
    stack = parser.add_mutually_exclusive_group()
    stack.add_argument("--stack", help="the stack served: its capture bucket and key")
    stack.add_argument("--outputs-file", type=Path, help="the stack's outputs as JSON instead")
    parser.add_argument("--aws-endpoint-url", help="with --outputs-file: the emulator's URL")
    parser.add_argument(
        "--capture-percent", type=float, default=100.0, help="share of requests captured (0: off)"
    )
    parser.add_argument("--variant", default=VARIANT, help="variant name in capture paths")
    parser.add_argument("--capture-flush-seconds", type=float, default=60.0)
    parser.add_argument("--capture-flush-records", type=int, default=1000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if args.model_data and not (args.stack or args.outputs_file):
        parser.error("--model-data needs --stack or --outputs-file (the stack's S3 access)")
    if args.aws_endpoint_url and not args.outputs_file:
        parser.error("--aws-endpoint-url goes with --outputs-file")
    return args


def stack_handle(args: argparse.Namespace) -> StackHandle | None:
    if args.stack:
        from ml.stack import open_stack

        return open_stack(args.stack)
    if args.outputs_file:
        exports = json.loads(Path(args.outputs_file).read_text(encoding="utf-8"))
        return StackHandle(StackOutputs.from_exports(exports), endpoint_url=args.aws_endpoint_url)
    return None


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from ml.serve.app import create_app
    from ml.serve.artifact import download_model

    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    handle = stack_handle(args)
    model_dir: Path = args.model_dir or (
        Path(tempfile.mkdtemp(prefix="model-")) if args.model_data else DEFAULT_MODEL_DIR
    )

    def load() -> ServedModel:
        if args.model_data:
            assert handle is not None  # parse_args requires a stack with --model-data
            log.info("downloading %s to %s", args.model_data, model_dir)
            download_model(handle, args.model_data, model_dir)
        return ServedModel.load(model_dir)

    metrics = ServingMetrics()
    capture = None
    if handle is not None and args.capture_percent > 0:
        settings = CaptureSettings.for_stack(
            handle.outputs,
            variant=args.variant,
            percent=args.capture_percent,
            max_seconds=args.capture_flush_seconds,
            max_records=args.capture_flush_records,
        )
        capture = CaptureWriter(handle.client("s3"), settings, metrics=metrics)
        log.info(
            "capturing %g%% of invocations to s3://%s/%s",
            settings.percent,
            settings.bucket,
            settings.prefix,
        )
    port = args.port or int(os.environ.get(PORT_VARIABLE) or DEFAULT_PORT)
    failed: list[BaseException] = []
    servers: list[uvicorn.Server] = []

    def stop(error: BaseException) -> None:
        failed.append(error)
        for running in servers:
            running.should_exit = True  # a server without its model must not look alive

    app = create_app(load, capture=capture, metrics=metrics, on_load_error=stop)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=port,
            log_level=args.log_level.lower(),
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=30,
        )
    )
    servers.append(server)
    server.run()
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
