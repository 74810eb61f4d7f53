"""Entry point the Pulumi CLI runs for ``--policy-pack policies``: the ONLY place the
``PolicyPack`` is constructed (constructing it starts the analyzer gRPC server and blocks).

The CLI's ``pulumi-analyzer-policy-python`` shim runs ``python -m pulumi.policy <engine>
.`` inside this directory, and ``pulumi.policy`` executes this file with
``runpy.run_path`` as a plain script: no parent package, and the repository root is not on
``sys.path``. So the directory is loaded as the package ``policies`` explicitly (without
editing ``sys.path``) before the registry is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pulumi_policy import EnforcementLevel, PolicyPack

PACKAGE = "policies"


def _load_package() -> ModuleType:
    if __package__:  # `python -m policies`: the package is already imported
        return importlib.import_module(__package__)
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    directory = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        PACKAGE, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the policy pack package from {directory}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    package = _load_package()
    registry = importlib.import_module(f"{package.__name__}.registry")
    PolicyPack(
        name=registry.PACK_NAME,
        policies=list(registry.ALL_POLICIES),
        # Each policy sets its own default level; this only covers a policy that forgot to.
        enforcement_level=EnforcementLevel.ADVISORY,
        description="Security and governance policies for mlops-platform ML environments.",
    )


if __name__ == "__main__":
    main()
