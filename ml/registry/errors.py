"""What can go wrong with the model registry; every message says what, where and how to fix."""

from __future__ import annotations

from collections.abc import Sequence


class RegistryError(Exception):
    """A registry operation could not be done; nothing was changed."""


class RegistryInputError(RegistryError, ValueError):
    """An argument to `register` (lineage, metrics, URLs) is not acceptable to SageMaker."""


class ModelPackageGroupMissing(RegistryError, LookupError):
    """The stack's model package group does not exist (the stack is not deployed)."""

    def __init__(self, group: str, stack: str) -> None:
        super().__init__(
            f"model package group {group!r} of stack {stack!r} does not exist. Fix: deploy "
            f"the stack first (`mlops sandbox up --stack {stack}` or `mlops up --stack {stack}`)"
        )
        self.group = group


class UnknownModelPackage(RegistryError, LookupError):
    """No model package with this ARN in the stack's group; `known` lists the ones there are."""

    def __init__(self, arn: str, group: str, known: Sequence[str]) -> None:
        listing = "\n".join(f"  {item}" for item in known) if known else "  (none registered)"
        super().__init__(
            f"no model package {arn!r} in group {group!r}. Known packages:\n{listing}\n"
            "Fix: pass one of these ARNs (`mlops models list --stack <stack>`)"
        )
        self.arn = arn
        self.known = tuple(known)
