"""SQS gap fills for moto 5.2: the RedriveAllowPolicy attribute, and queue policies that stay.

Two differences from AWS that the sandbox's queues run into:

- moto accepts a `RedriveAllowPolicy` attribute but never reports it: it is not among the
  attributes `Queue.attributes` lists, so GetQueueAttributes cannot show which source
  queues a dead-letter queue admits.
- moto's `Queue._set_attributes` ends with `self.policy = attributes.get("Policy")`, so
  every SetQueueAttributes call that does not name `Policy` (a retention change, a
  RedriveAllowPolicy) erases the queue policy. AWS changes only the attributes named.

`install()` adds `RedriveAllowPolicy` to the attributes moto reports (unset: reported as
absent, like `Policy`; set to "" it is removed, as AWS does) and wraps `_set_attributes` so
that a call without `Policy` keeps the one in place. Everything stays on moto's own
`Queue` objects, which `POST /moto-api/reset` discards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.sqs.models import Queue

_REDRIVE_ALLOW = "RedriveAllowPolicy"
_MARK = "_mlops_gap_fill"

SetAttributes = Callable[[Queue, dict[str, Any], float | None], None]


def _keeping_policy(original: SetAttributes) -> SetAttributes:
    def set_attributes(self: Queue, attributes: dict[str, Any], now: float | None = None) -> None:
        policy = getattr(self, "policy", None)
        original(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = policy
        if not getattr(self, "redrive_allow_policy", None):
            vars(self)["redrive_allow_policy"] = None  # "" removes it, as AWS does

    setattr(set_attributes, _MARK, True)
    return set_attributes


def install() -> list[str]:
    """Patch moto's `Queue` once (idempotent); return what changed."""
    if not getattr(Queue._set_attributes, _MARK, False):
        patched: dict[str, Any] = {
            "redrive_allow_policy": None,  # what a queue that never set one reports
            "BASE_ATTRIBUTES": [*Queue.BASE_ATTRIBUTES, _REDRIVE_ALLOW],
            "_set_attributes": _keeping_policy(Queue._set_attributes),
        }
        for name, value in patched.items():
            setattr(Queue, name, value)
    return ["sqs:RedriveAllowPolicy attribute", "sqs:set_queue_attributes keeps Policy"]
