"""The inference server: SageMaker's container contract as a Starlette application.

    GET  /ping          200 once the model is loaded; 503 while it loads or if it failed
    POST /invocations   text/csv or application/json in, P(positive) out (`ml.serve.payload`)
    GET  /metrics       Prometheus text format (`ml.serve.metrics`)

The model loads in a background thread at startup, so the port answers /ping (503) at once,
as SageMaker's health check expects, instead of refusing connections while a large artifact
is read. Prediction is CPU-bound and runs in Starlette's thread pool, off the event loop.
At shutdown (SIGTERM from SageMaker, Kubernetes or `LocalEndpoint.stop`) the lifespan hook
writes the pending capture records.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ml.serve.capture import CaptureWriter, capture_record, latency_attributes
from ml.serve.metrics import CONTENT_TYPE, ServingMetrics
from ml.serve.model import ServedModel
from ml.serve.payload import (
    MEDIA_TYPES,
    PayloadError,
    RequestParser,
    render,
    request_format,
    response_format,
)

log = logging.getLogger(__name__)

INFERENCE_ID_HEADER: Final = "X-Amzn-SageMaker-Inference-Id"
CUSTOM_ATTRIBUTES_HEADER: Final = "X-Amzn-SageMaker-Custom-Attributes"
MAX_INFERENCE_ID_LENGTH: Final = 64  # InvokeEndpoint's InferenceId limit
_TEXT: Final = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str


def create_app(
    loader: Callable[[], ServedModel],
    *,
    capture: CaptureWriter | None = None,
    metrics: ServingMetrics | None = None,
    on_load_error: Callable[[BaseException], None] | None = None,
) -> Starlette:
    """The server's ASGI app. `loader` runs once, in the background, at startup;
    `on_load_error` is told if it fails (the process entry point exits then)."""
    server = _Server(loader, capture, metrics or ServingMetrics(), on_load_error)
    return Starlette(
        routes=[
            Route("/ping", server.ping, methods=["GET"]),
            Route("/invocations", server.invocations, methods=["POST"]),
            Route("/metrics", server.prometheus, methods=["GET"]),
        ],
        lifespan=server.lifespan,
    )


class _Server:
    def __init__(
        self,
        loader: Callable[[], ServedModel],
        capture: CaptureWriter | None,
        metrics: ServingMetrics,
        on_load_error: Callable[[BaseException], None] | None,
    ) -> None:
        self.loader = loader
        self.capture = capture
        self.metrics = metrics
        self.on_load_error = on_load_error
        self.model: ServedModel | None = None
        self.parser: RequestParser | None = None
        self.error: str | None = None

    def load(self) -> None:
        try:
            model = self.loader()
            parser = RequestParser(model.features)
            parser.warm_up()
            self.parser = parser
            self.model = model  # last: /ping answers 200 from here on
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
            log.error("the model failed to load: %s", self.error)
            if self.on_load_error is not None:
                self.on_load_error(error)
            return
        self.metrics.model_loaded.set(1)
        log.info("model loaded: features %s", ", ".join(model.features.names))

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=self.load, name="model-loader", daemon=True).start()
        if self.capture is not None:
            self.capture.start()
        try:
            yield
        finally:
            if self.capture is not None:
                await run_in_threadpool(self.capture.close)

    async def ping(self, _: Request) -> Response:
        if self.model is not None:
            response = Response(b"", status_code=200)
        elif self.error is not None:
            response = PlainTextResponse(f"model failed to load: {self.error}", 503)
        else:
            response = PlainTextResponse("model loading", 503)
        self.metrics.requests.labels(route="/ping", status=str(response.status_code)).inc()
        return response

    async def prometheus(self, _: Request) -> Response:
        self.metrics.requests.labels(route="/metrics", status="200").inc()
        return Response(self.metrics.exposition(), headers={"content-type": CONTENT_TYPE})

    async def invocations(self, request: Request) -> Response:
        body = await request.body()
        started = time.perf_counter()
        inference_id = request.headers.get(INFERENCE_ID_HEADER) or str(uuid.uuid4())
        content_type = request.headers.get("content-type", "")
        try:
            answer = await run_in_threadpool(
                self.answer, body, content_type, request.headers.get("accept"), inference_id
            )
        except PayloadError as error:
            answer = _Answer(error.status, str(error).encode(), _TEXT)
        except Exception as error:  # a bug or a broken model: answer 500 and keep serving
            log.exception("invocation %s failed", inference_id)
            message = f"internal error: {type(error).__name__} (see the server log)"
            answer = _Answer(500, message.encode(), _TEXT)
        elapsed = time.perf_counter() - started
        attributes = latency_attributes(elapsed)
        self.metrics.latency.observe(elapsed)
        self.metrics.requests.labels(route="/invocations", status=str(answer.status)).inc()
        if answer.status == 200 and self.capture is not None and self.capture.sampled():
            self.capture.add(
                capture_record(
                    request_body=body,
                    request_content_type=content_type,
                    response_body=answer.body,
                    response_content_type=answer.content_type,
                    inference_id=inference_id,
                    inference_time=datetime.now(UTC),
                    custom_attributes=attributes,
                )
            )
        return Response(
            answer.body,
            status_code=answer.status,
            headers={
                "content-type": answer.content_type,
                INFERENCE_ID_HEADER: inference_id,
                # What SageMaker returns to InvokeEndpoint's caller as CustomAttributes.
                CUSTOM_ATTRIBUTES_HEADER: attributes,
            },
        )

    def answer(
        self, body: bytes, content_type: str, accept: str | None, inference_id: str
    ) -> _Answer:
        """Parse, predict, render (in a worker thread); PayloadError for the client's faults."""
        if self.model is None or self.parser is None:
            reason = f"failed to load: {self.error}" if self.error else "is still loading"
            return _Answer(503, f"the model {reason}".encode(), _TEXT)
        if len(inference_id) > MAX_INFERENCE_ID_LENGTH or not inference_id.isprintable():
            raise PayloadError(
                f"{INFERENCE_ID_HEADER} must be 1-{MAX_INFERENCE_ID_LENGTH} printable "
                f"characters; got {len(inference_id)}. Fix: send a shorter id"
            )
        fmt = request_format(content_type)
        out = response_format(accept, fmt)
        frame = self.parser.parse(body, fmt)
        try:
            probabilities = self.model.predict(frame)
        except (ValueError, TypeError) as error:  # sklearn's way of refusing an input
            raise PayloadError(f"the model rejected the input: {error}") from None
        self.metrics.rows.inc(len(probabilities))
        for probability in probabilities:
            self.metrics.predictions.observe(float(probability))
        # Starlette would add the charset to a text/* type anyway: say it, so that the
        # captured observedContentType is what the client received.
        media = MEDIA_TYPES[out] + ("; charset=utf-8" if out == "csv" else "")
        return _Answer(200, render(probabilities, out), media)
