"""Entry point of `pulumi up -s <env>` (Pulumi.yaml: main: infra/)."""

import pulumi

from infra.config import ConfigError
from infra.stack import program

try:
    program()
except ConfigError as exc:
    # RunError prints the message alone: the config problem, not a traceback.
    raise pulumi.RunError(str(exc)) from None
