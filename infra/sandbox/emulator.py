"""The AWS emulator a sandbox stack runs in: a detached moto server, or one someone else runs.

`mlops sandbox up`, `mlops outputs`, `mlops sandbox down` and the ML jobs are separate
processes, so the emulator must outlive the one that started it. `Emulator.start` spawns
`python -m infra.sandbox.moto_app` in a session of its own (a terminal's Ctrl-C or hang-up
does not reach it), logs to `<state_dir>/emulator.log` and records where it listens in
`<state_dir>/emulator.json`; any later process finds it with `Emulator.attach(state_dir)`.
`Emulator.external(url)` wraps an emulator someone else runs (LocalStack, a moto server),
which we health-check but never stop.

Only the standard library is used to manage and probe the process; boto3 is imported when
a client is asked for. Every request goes to the emulator's URL, proxies bypassed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

log = logging.getLogger(__name__)

Kind = Literal["moto", "localstack"]

HOST = "127.0.0.1"
STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"
SAGEMAKER_CONFIG_FILE = "sagemaker-config.json"
DEFAULT_REGION = "us-east-1"
ACCESS_KEY_ID = SECRET_ACCESS_KEY = "testing"  # moto and LocalStack accept any; AWS rejects
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HEALTH_PATHS: dict[Kind, str] = {"moto": "/moto-api/", "localstack": "/_localstack/health"}
_APP_MODULE = "infra.sandbox.moto_app"
_LOG_TAIL_LINES = 20

# Variables that would send a child's AWS calls elsewhere or with other credentials.
_CONFLICTING_ENV = frozenset(
    {
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    }
)


class EmulatorError(RuntimeError):
    """The emulator could not be started, reached or used; the message says how to fix it."""


class Emulator:
    """A running AWS emulator: where it answers and, if we started it, which process it is."""

    def __init__(
        self,
        url: str,
        *,
        kind: Kind = "moto",
        pid: int | None = None,
        state_dir: Path | None = None,
        log_path: Path | None = None,
        region: str = DEFAULT_REGION,
        process: subprocess.Popen[bytes] | None = None,
    ) -> None:
        """Use `start`, `attach` or `external`; this only records what they found."""
        self.url = url.rstrip("/")
        self.kind: Kind = kind
        self.pid = pid
        self.state_dir = state_dir
        self.log_path = log_path
        self.region = region
        self._process = process
        self._clients: dict[tuple[str, str], Any] = {}

    # --- finding one ----------------------------------------------------------------------

    @classmethod
    def command(cls, host: str, port: int) -> list[str]:
        """The emulator's command line (tests replace it to simulate a broken emulator)."""
        return [sys.executable, "-m", _APP_MODULE, "--host", host, "--port", str(port)]

    @classmethod
    def start(
        cls,
        *,
        state_dir: Path,
        port: int | None = None,
        timeout: float = START_TIMEOUT,
        region: str = DEFAULT_REGION,
    ) -> Emulator:
        """Start a detached moto server for `state_dir` and wait until it answers.

        `port=None` takes a free loopback port. Raises `EmulatorError` if one is already
        running for `state_dir`, if the port is taken, or if the server does not answer
        within `timeout` seconds (it is then killed and the error quotes its log).
        """
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        running = cls.attach(state_dir)
        if running is not None:
            raise EmulatorError(
                f"an emulator is already running for {state_dir} at {running.url} "
                f"(pid {running.pid}). Fix: attach to it with Emulator.attach(state_dir), "
                "or stop it first (`mlops sandbox down`, or Emulator.stop())."
            )
        cls._stop_unresponsive(state_dir)
        port = _free_port() if port is None else _check_port_free(port)
        log_path = state_dir / LOG_FILE
        argv = cls.command(HOST, port)
        began = time.monotonic()
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session and process group: stop() kills it all
                close_fds=True,
                env=_server_env(port),
            )
        emulator = cls(
            f"http://{HOST}:{port}",
            pid=process.pid,
            state_dir=state_dir,
            log_path=log_path,
            region=region,
            process=process,
        )
        try:
            emulator._wait_until_healthy(timeout, argv)
        except BaseException:
            emulator._terminate()
            raise
        _write_json_atomically(
            state_dir / STATE_FILE,
            {
                "pid": process.pid,
                "port": port,
                "url": emulator.url,
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "log": str(log_path),
                "region": region,
            },
        )
        log.info(
            "emulator up at %s (pid %s) in %.1f s",
            emulator.url,
            process.pid,
            time.monotonic() - began,
        )
        return emulator

    @classmethod
    def attach(cls, state_dir: Path) -> Emulator | None:
        """The emulator recorded in `state_dir`, if its process is alive and it answers.

        A record whose process is gone is stale: it is removed and None returned. A live
        emulator process that does not answer also gives None, but keeps its record so that
        `start` can stop it rather than leave it running.
        """
        path = Path(state_dir) / STATE_FILE
        record = _read_record(path)
        if record is None:
            return None
        if not _is_emulator_process(record["pid"]):
            log.info("removing stale %s: process %s is gone", path, record["pid"])
            path.unlink(missing_ok=True)
            return None
        emulator = cls(
            record["url"],
            pid=record["pid"],
            state_dir=Path(state_dir),
            log_path=Path(record["log"]) if record.get("log") else None,
            region=str(record.get("region") or DEFAULT_REGION),
        )
        if not emulator.healthy():
            log.warning(
                "emulator pid %s is running but does not answer at %s; not attaching "
                "(Emulator.start on %s stops it and starts a new one)",
                emulator.pid,
                emulator.url,
                state_dir,
            )
            return None
        return emulator

    @classmethod
    def external(cls, url: str, *, region: str = DEFAULT_REGION) -> Emulator:
        """An emulator someone else runs (LocalStack, a moto server): checked, never stopped."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise EmulatorError(
                f"{url!r} is not an emulator URL. Fix: pass its base URL, e.g. "
                "http://localhost:4566 (LocalStack) or http://127.0.0.1:5000 (moto server)."
            )
        base = url.rstrip("/")
        for kind, path in HEALTH_PATHS.items():
            if _answers(base + path):
                return cls(base, kind=kind, region=region)
        raise EmulatorError(
            f"no emulator answers at {base}: tried {base}{HEALTH_PATHS['moto']} (moto) and "
            f"{base}{HEALTH_PATHS['localstack']} (LocalStack). Fix: start it (e.g. "
            "`localstack start` or `moto_server -p 5000`) and check the URL, or leave the "
            "URL out to use the embedded emulator."
        )

    # --- using it -------------------------------------------------------------------------

    @property
    def is_external(self) -> bool:
        """True for an emulator someone else runs (from `external`): we never stop it."""
        return self.pid is None

    @property
    def port(self) -> int:
        parsed = urllib.parse.urlsplit(self.url)
        return parsed.port or (443 if parsed.scheme == "https" else 80)

    def healthy(self) -> bool:
        """Whether the emulator answers its health URL now."""
        return _answers(self.url + HEALTH_PATHS[self.kind])

    def reset(self) -> None:
        """Empty every service's state (moto's `POST /moto-api/reset`)."""
        if self.kind != "moto":
            raise EmulatorError(
                f"reset is not supported for the {self.kind} emulator at {self.url}: only "
                "moto has a reset API (/moto-api/reset). Fix: delete the stack's resources "
                "(`mlops sandbox down`) or restart that emulator."
            )
        target = self.url + "/moto-api/reset"
        try:
            with _OPENER.open(urllib.request.Request(target, method="POST"), timeout=10) as r:
                status = r.status
        except (urllib.error.URLError, OSError) as error:
            raise EmulatorError(
                f"reset failed: POST {target}: {error}. Fix: check the emulator is running "
                f"(Emulator.healthy()); its log is {self.log_path or 'not ours'}."
            ) from error
        if status != 200:
            raise EmulatorError(f"reset failed: POST {target} answered HTTP {status}.")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop an emulator we started: SIGTERM its process group, SIGKILL after `timeout`
        seconds, then remove its record. Idempotent; does nothing for an external one."""
        if self.is_external:
            log.debug("not stopping external emulator at %s", self.url)
            return
        self._terminate(timeout)
        self._remove_record()

    def boto3_session(self, region: str | None = None) -> Any:
        """A boto3 Session with the emulator's test credentials and region."""
        import boto3

        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=region or self.region,
        )

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client bound to the emulator (path-style S3), cached per service+region."""
        key = (service, region or self.region)
        if key not in self._clients:
            from botocore.config import Config

            self._clients[key] = self.boto3_session(key[1]).client(
                service,
                endpoint_url=self.url,
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
            )
        return self._clients[key]

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment variables that point boto3 and the `sagemaker` SDK at the emulator.

        Without `base`, only the variables to set. With `base` (e.g. `os.environ`), a full
        environment for a child process: `base` minus the variables that would pick other
        credentials or endpoints (AWS_PROFILE, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL_<SVC>...),
        plus these, with the emulator's host added to NO_PROXY.
        """
        overlay = {
            "AWS_ENDPOINT_URL": self.url,  # every boto3 client, botocore >= 1.31
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups off loopback
            # sagemaker-core's iam_role_resolver skips its IAM permission/trust simulation
            # when this is "false" (resolve_and_validate_role); moto cannot simulate it.
            "SAGEMAKER_VALIDATE_ROLE": "false",
        }
        if self.state_dir is not None:
            # The SDK's config (read from this path) opts out of its telemetry, which would
            # otherwise GET a public S3 URL on every decorated call.
            overlay["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(self._sagemaker_config())
        if base is None:
            return overlay
        merged = {
            key: value
            for key, value in base.items()
            if key not in _CONFLICTING_ENV and not key.startswith("AWS_ENDPOINT_URL_")
        }
        merged.update(overlay)
        host = urllib.parse.urlsplit(self.url).hostname or HOST
        for name in ("NO_PROXY", "no_proxy"):
            entries = [e for e in merged.get(name, "").split(",") if e]
            merged[name] = ",".join(
                [*entries, *(h for h in (host, "localhost") if h not in entries)]
            )
        return merged

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        owner = "external" if self.is_external else f"pid {self.pid}"
        return f"Emulator({self.kind} at {self.url}, {owner})"

    # --- internals ------------------------------------------------------------------------

    def _wait_until_healthy(self, timeout: float, argv: list[str]) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = self._process.poll() if self._process is not None else None
            if code is not None:
                raise EmulatorError(
                    f"the emulator exited with code {code} before answering at {self.url} "
                    f"(command: {' '.join(argv)}). Last lines of {self.log_path}:\n"
                    f"{self._log_tail()}\nFix: correct what the log reports (is "
                    "moto[server] installed? `pip install -e '.[dev]'`), then start again."
                )
            if self.healthy():
                return
            if time.monotonic() >= deadline:
                raise EmulatorError(
                    f"the emulator (pid {self.pid}) did not answer at "
                    f"{self.url}{HEALTH_PATHS['moto']} within {timeout:g} s and was stopped "
                    f"(command: {' '.join(argv)}). Last lines of {self.log_path}:\n"
                    f"{self._log_tail()}\nFix: read the log; on a slow machine pass a "
                    "larger timeout to Emulator.start."
                )
            time.sleep(0.1)

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "    (no log)"
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(f"    {line}" for line in lines[-_LOG_TAIL_LINES:]) or "    (log empty)"

    def _terminate(self, timeout: float = STOP_TIMEOUT) -> None:
        if self.pid is None or not self._alive():
            return
        self._signal(signal.SIGTERM)
        self._signal(signal.SIGCONT)  # a suspended (Ctrl-Z, SIGSTOP) server handles it too
        if not self._wait_exit(timeout):
            log.warning("emulator pid %s ignored SIGTERM for %g s; killing it", self.pid, timeout)
            self._signal(signal.SIGKILL)
            self._wait_exit(5.0)

    def _alive(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self.pid is not None and _pid_alive(self.pid)

    def _signal(self, signum: int) -> None:
        assert self.pid is not None
        try:
            if os.getpgid(self.pid) == self.pid:  # a group leader: reach its children too
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def _wait_exit(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while self._alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _remove_record(self) -> None:
        if self.state_dir is None:
            return
        path = self.state_dir / STATE_FILE
        record = _read_record(path)
        if record is not None and record["pid"] == self.pid:  # not a newer emulator's
            path.unlink(missing_ok=True)

    def _sagemaker_config(self) -> Path:
        assert self.state_dir is not None
        path = self.state_dir / SAGEMAKER_CONFIG_FILE
        if not path.exists():
            config = {
                "SchemaVersion": "1.0",
                "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
            }
            _write_json_atomically(path, config)  # JSON is YAML: the SDK's loader reads it
        return path

    @classmethod
    def _stop_unresponsive(cls, state_dir: Path) -> None:
        """Stop an emulator of ours that is recorded for `state_dir` but no longer answers."""
        record = _read_record(state_dir / STATE_FILE)
        if record is not None and _is_emulator_process(record["pid"]):
            log.warning("stopping unresponsive emulator pid %s of %s", record["pid"], state_dir)
            cls(record["url"], pid=record["pid"], state_dir=state_dir).stop()


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def _answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with _OPENER.open(urllib.request.Request(url, method="GET"), timeout=timeout) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _check_port_free(port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as error:
            raise EmulatorError(
                f"port {port} on {HOST} is not available for the emulator ({error.strerror}). "
                "Fix: pick another port, or leave the port out to get a free one."
            ) from error
    return port


def _server_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # attach AWS-managed IAM policies
            "MOTO_PORT": str(port),  # moto builds some URLs (e.g. SQS queue URLs) from it
            "PYTHONUNBUFFERED": "1",  # the log shows what happened before a crash
        }
    )
    return env


def _write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _read_record(path: Path) -> dict[str, Any] | None:
    """emulator.json as a dict with an int pid and a url; an unreadable one is removed."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("removing unreadable %s: %s", path, error)
        path.unlink(missing_ok=True)
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("pid"), int)
        or not isinstance(record.get("url"), str)
    ):
        log.warning("removing malformed %s: it needs an integer pid and a url", path)
        path.unlink(missing_ok=True)
        return None
    return record


def _pid_alive(pid: int) -> bool:
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
        return True  # alive, someone else's
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie is not running


def _is_emulator_process(pid: int) -> bool:
    """Alive and, where /proc tells, running our emulator module (not a reused pid)."""
    if pid <= 0 or not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return _APP_MODULE.encode() in cmdline
