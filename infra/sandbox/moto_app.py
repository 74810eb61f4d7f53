"""The emulator process: moto's server with the toolkit's gap fills installed.

    python -m infra.sandbox.moto_app --host 127.0.0.1 --port 5000

`infra.sandbox.emulator.Emulator.start` runs this detached, with its output in the state
directory's log. It serves moto's werkzeug app exactly as `moto.server` and
`ThreadedMotoServer` build it (`DomainDispatcherApplication(create_backend_app)` with
`MotoRequestHandler`, threaded), after installing `infra.sandbox.moto_patches`, and exits
cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

# Read by moto's IAM backend when it is built; attaching AWS-managed policies (e.g.
# AmazonSageMakerFullAccess on a role) fails without it. Set before moto is imported.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

log = logging.getLogger("infra.sandbox.moto_app")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.sandbox.moto_app",
        description="Serve moto's AWS emulator with the mlops-platform gap fills.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--port", type=int, default=5000, help="port to bind; 0 picks one")
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (off: warnings only)"
    )
    return parser.parse_args(argv)


def _exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.access_log else logging.WARNING)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from infra.sandbox import moto_patches

    patched = moto_patches.install()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    host, port = server.server_address[:2]
    os.environ.setdefault("MOTO_PORT", str(port))  # moto builds some URLs from it
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    log.info("moto emulator serving http://%s:%s (pid %s)", host, port, os.getpid())
    log.info("gap fills installed: %s", ", ".join(patched))
    try:
        server.serve_forever()
    except SystemExit:
        log.info("stopping on signal")
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
