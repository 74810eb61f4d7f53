"""A sandbox stack's endpoint: the inference server as a detached local process.

The emulator's SageMaker endpoints are records, not containers, so a sandbox stack serves
its model with `python -m ml.serve` on a loopback port. The server captures into the
stack's capture bucket exactly as SageMaker would, so monitoring works the same.

    endpoint = start_local_endpoint(handle, "s3://.../model.tar.gz", state_dir=d)
    endpoint.url               # http://127.0.0.1:<port>
    attach(d)                  # from any later process; None when nothing runs
    endpoint.stop()            # or stop_local_endpoint(d)

`state_dir/serving.json` records the running server (pid, port, url, model); its log is
`state_dir/serving.log`, its unpacked model `state_dir/models/<id>/`. Starting again
replaces the model without a gap: the new server must answer /ping before the old one is
stopped, and if it never does, the old one keeps serving and nothing is recorded.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from ml.serve.artifact import download_model
from ml.stack import StackHandle

log = logging.getLogger(__name__)

STATE_FILE: Final = "serving.json"
LOG_FILE: Final = "serving.log"
OUTPUTS_FILE: Final = "stack_outputs.json"
LOCK_FILE: Final = ".serving.lock"
MODELS_DIR: Final = "models"
HOST: Final = "127.0.0.1"
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 15.0
_MODULE: Final = "ml.serve"
_LOG_TAIL_LINES: Final = 20
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


class LocalEndpointError(RuntimeError):
    """The local server could not be started or stopped; the message quotes its log."""


@dataclass(frozen=True)
class LocalEndpoint:
    """A running local server, as recorded in `serving.json`."""

    url: str
    pid: int
    port: int
    model_data_url: str
    model_dir: str
    log: str
    started_at: str
    state_dir: str
    endpoint_name: str = ""

    def healthy(self) -> bool:
        """Whether it answers /ping with 200 now."""
        return _ping(self.url) == 200

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (the server flushes its capture buffer), SIGKILL after `timeout` s;
        removes the record and the unpacked model. Idempotent."""
        _terminate(self.pid, timeout)
        path = Path(self.state_dir) / STATE_FILE
        record = _read_record(path)
        if record is not None and record.pid == self.pid:  # not a newer server's record
            path.unlink(missing_ok=True)
        _remove_model_dir(self)


def start_local_endpoint(
    handle: StackHandle,
    model_data_url: str,
    *,
    state_dir: Path,
    capture_percent: float = 100.0,
    capture_flush_seconds: float = 60.0,
    port: int | None = None,
    timeout: float = START_TIMEOUT,
) -> LocalEndpoint:
    """Download `model_data_url`, start a server for it, wait for /ping, record it.

    A server already recorded in `state_dir` keeps serving until the new one is healthy,
    then is stopped. Raises `ModelArtifactError` (bad artifact: nothing started) or
    `LocalEndpointError` (the server exited or never answered: it is stopped, its log quoted).
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    with _locked(state_dir):
        previous = attach(state_dir)
        model_dir = (
            state_dir / MODELS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        )
        try:
            download_model(handle, model_data_url, model_dir)
            endpoint = _spawn(
                handle,
                model_data_url,
                model_dir,
                state_dir,
                port=port or _free_port(),
                capture_percent=capture_percent,
                capture_flush_seconds=capture_flush_seconds,
                timeout=timeout,
            )
        except BaseException:
            shutil.rmtree(model_dir, ignore_errors=True)
            raise
        _write_json(state_dir / STATE_FILE, asdict(endpoint))
        if previous is not None:
            log.info(
                "stopping the previous server (pid %s, %s)", previous.pid, previous.model_data_url
            )
            previous.stop()
        return endpoint


def attach(state_dir: Path) -> LocalEndpoint | None:
    """The server recorded in `state_dir` if its process is alive; a stale record is removed."""
    path = Path(state_dir) / STATE_FILE
    endpoint = _read_record(path)
    if endpoint is None:
        return None
    if not _is_server_process(endpoint.pid):
        log.info("removing stale %s: process %s is gone", path, endpoint.pid)
        path.unlink(missing_ok=True)
        _remove_model_dir(endpoint)
        return None
    return endpoint


def stop_local_endpoint(state_dir: Path) -> bool:
    """Stop the server recorded in `state_dir`; False if none was running."""
    with _locked(Path(state_dir)):
        endpoint = attach(state_dir)
        if endpoint is None:
            return False
        endpoint.stop()
        return True


def _spawn(
    handle: StackHandle,
    model_data_url: str,
    model_dir: Path,
    state_dir: Path,
    *,
    port: int,
    capture_percent: float,
    capture_flush_seconds: float,
    timeout: float,
) -> LocalEndpoint:
    outputs_file = state_dir / OUTPUTS_FILE
    outputs_file.write_text(handle.outputs.model_dump_json(by_alias=True), encoding="utf-8")
    argv = [
        sys.executable, "-m", _MODULE,
        "--model-dir", str(model_dir),
        "--host", HOST,
        "--port", str(port),
        "--outputs-file", str(outputs_file),
        "--capture-percent", str(capture_percent),
        "--capture-flush-seconds", str(capture_flush_seconds),
    ]  # fmt: skip
    if handle.endpoint_url:
        argv += ["--aws-endpoint-url", handle.endpoint_url]
    log_path = state_dir / LOG_FILE
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the CLI that started it, unaffected by Ctrl-C
            close_fds=True,
            env=_child_env(),
        )
    url = f"http://{HOST}:{port}"
    _wait_until_healthy(process, url, log_path, timeout)
    return LocalEndpoint(
        url=url,
        pid=process.pid,
        port=port,
        model_data_url=model_data_url,
        model_dir=str(model_dir),
        log=str(log_path),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        state_dir=str(state_dir),
        endpoint_name=handle.outputs.endpoint_name,
    )


def _wait_until_healthy(
    process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            raise LocalEndpointError(
                f"the inference server exited with code {code} before answering {url}/ping. "
                f"Last lines of {log_path}:\n{_tail(log_path)}\nFix: correct what the log "
                "reports (often the model artifact), then start again"
            )
        if _ping(url) == 200:
            return
        if time.monotonic() >= deadline:
            _terminate(process.pid, STOP_TIMEOUT)
            raise LocalEndpointError(
                f"the inference server (pid {process.pid}) did not answer {url}/ping with 200 "
                f"within {timeout:g} s and was stopped. Last lines of {log_path}:\n"
                f"{_tail(log_path)}\nFix: read the log; on a slow machine pass a larger timeout"
            )
        time.sleep(0.1)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # the log shows what happened before a crash
    for name in ("NO_PROXY", "no_proxy"):  # the emulator and the server are on loopback
        entries = [entry for entry in env.get(name, "").split(",") if entry]
        env[name] = ",".join([*entries, *(h for h in (HOST, "localhost") if h not in entries)])
    return env


def _ping(url: str) -> int | None:
    try:
        with _OPENER.open(f"{url}/ping", timeout=2.0) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _terminate(pid: int, timeout: float) -> None:
    if not _alive(pid):
        return
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            log.warning("server pid %s ignored SIGTERM for %g s; killing it", pid, timeout)
            _signal(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            return
        time.sleep(0.05)


def _signal(pid: int, signum: int) -> None:
    try:
        if os.getpgid(pid) == pid:  # started in its own session: reach its children too
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our exited child: reap it
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie is not running


def _is_server_process(pid: int) -> bool:
    """Alive and, where /proc tells, running `ml.serve` (not a reused pid)."""
    if pid <= 0 or not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return _MODULE.encode() in cmdline


def _remove_model_dir(endpoint: LocalEndpoint) -> None:
    """Delete the server's unpacked model, only ever inside `<state_dir>/models/` (the
    record is a file on disk: never trust it to name what to delete)."""
    models = (Path(endpoint.state_dir) / MODELS_DIR).resolve()
    target = Path(endpoint.model_dir).resolve()
    if target != models and target.is_relative_to(models):
        shutil.rmtree(target, ignore_errors=True)


def _read_record(path: Path) -> LocalEndpoint | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return LocalEndpoint(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as error:
        log.warning("removing unreadable %s: %s", path, error)
        path.unlink(missing_ok=True)
        return None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in lines[-_LOG_TAIL_LINES:]) or "    (log empty)"


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """One start/stop at a time per state directory, across processes."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / LOCK_FILE).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
