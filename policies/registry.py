"""Every policy of the pack, in documentation order.

``__main__.py`` (the CLI path) and ``offline.py`` (the no-CLI path) both take the policies
from here, so the two paths can never run different sets.
"""

from __future__ import annotations

from typing import Final

from pulumi_policy import Policy

from . import cost, ecr, iam, k8s, kms, monitoring, network, sagemaker, storage, tagging

PACK_NAME: Final = "mlops-platform"

# One module per domain; each exposes POLICIES.
DOMAINS: Final = (
    storage,
    kms,
    iam,
    sagemaker,
    ecr,
    network,
    monitoring,
    tagging,
    cost,
    k8s,
)

ALL_POLICIES: Final[list[Policy]] = [policy for domain in DOMAINS for policy in domain.POLICIES]

POLICIES_BY_NAME: Final[dict[str, Policy]] = {policy.name: policy for policy in ALL_POLICIES}

if len(POLICIES_BY_NAME) != len(ALL_POLICIES):  # names must be unique within a pack
    raise RuntimeError("duplicate policy names in the mlops-platform policy pack")
