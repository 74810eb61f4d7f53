"""The ML environment: composes one component per area from a `StackConfig`."""

from __future__ import annotations

from infra.config import StackConfig, load_config


def build_stack(cfg: StackConfig) -> None:
    """Declare every resource of the stack and export `StackOutputs`."""
    import pulumi

    pulumi.export("environment", cfg.environment.value)


def program() -> None:
    """What `pulumi up` runs: the stack's config, read under the engine, then the stack."""
    build_stack(load_config())
