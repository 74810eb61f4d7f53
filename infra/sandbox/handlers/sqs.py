"""SQS: queues, their access policies and redrive-allow policies.

A queue's settings are SQS attributes (strings; the JSON policies `policy`, `redrivePolicy`
and `redriveAllowPolicy` too). Queues are known by URL: it is the id of all three types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.sandbox.handlers.base import (
    Context,
    Handler,
    attribute_string,
    gone_is_fine,
    not_found,
    physical_name,
)

# input key -> (attribute, what SQS holds when the input is dropped; None: "" clears it)
_QUEUE_ATTRIBUTES: dict[str, tuple[str, str | None]] = {
    "delaySeconds": ("DelaySeconds", "0"),
    "maxMessageSize": ("MaximumMessageSize", "262144"),
    "messageRetentionSeconds": ("MessageRetentionPeriod", "345600"),
    "receiveWaitTimeSeconds": ("ReceiveMessageWaitTimeSeconds", "0"),
    "visibilityTimeoutSeconds": ("VisibilityTimeout", "30"),
    "policy": ("Policy", None),
    "redrivePolicy": ("RedrivePolicy", None),
    "redriveAllowPolicy": ("RedriveAllowPolicy", None),
    "kmsMasterKeyId": ("KmsMasterKeyId", None),
    "kmsDataKeyReusePeriodSeconds": ("KmsDataKeyReusePeriodSeconds", "300"),
    "sqsManagedSseEnabled": ("SqsManagedSseEnabled", "false"),
    "fifoQueue": ("FifoQueue", None),
    "contentBasedDeduplication": ("ContentBasedDeduplication", "false"),
    "deduplicationScope": ("DeduplicationScope", "queue"),
    "fifoThroughputLimit": ("FifoThroughputLimit", "perQueue"),
}


def _attributes(inputs: Mapping[str, Any]) -> dict[str, str]:
    attributes = {
        api: attribute_string(inputs[wire])
        for wire, (api, _) in _QUEUE_ATTRIBUTES.items()
        if inputs.get(wire) is not None
    }
    # A standard queue is one without the attribute: SQS rejects FifoQueue=false.
    if attributes.get("FifoQueue") == "false":
        del attributes["FifoQueue"]
    return attributes


class Queue(Handler):
    """A queue; its id is its URL (as the emulator or AWS returns it). Name and FIFO-ness are
    fixed (a change replaces it); every other attribute changes in place."""

    type_token = "aws:sqs/queue:Queue"

    def find_orphan(self, ctx: Context, inputs: Mapping[str, Any]) -> str | None:
        name = inputs.get("name")
        if not isinstance(name, str) or not name:
            return None
        try:
            return str(ctx.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
        except Exception as exc:
            if not_found(exc) or "NonExistentQueue" in str(exc):
                return None
            raise

    replace_on = frozenset({"name", "namePrefix", "fifoQueue"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        sqs = ctx.client("sqs")
        suffix = ".fifo" if inputs.get("fifoQueue") else ""
        name = physical_name(ctx, inputs, max_length=80, suffix=suffix)
        request: dict[str, Any] = {"QueueName": name, "Attributes": _attributes(inputs)}
        if inputs.get("tags"):
            request["tags"] = dict(inputs["tags"])
        url = sqs.create_queue(**request)["QueueUrl"]
        return url, self._outputs(sqs, url, name, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        sqs = ctx.client("sqs")
        old, new = _attributes(old_inputs), _attributes(new_inputs)
        cleared = {api: default for api, default in _QUEUE_ATTRIBUTES.values()}
        changes = {
            api: new.get(api, cleared[api] or "")
            for api in {*old, *new}
            if old.get(api) != new.get(api)
        }
        if changes:
            sqs.set_queue_attributes(QueueUrl=rid, Attributes=changes)
        old_tags, new_tags = dict(old_inputs.get("tags") or {}), dict(new_inputs.get("tags") or {})
        dropped = sorted(set(old_tags) - set(new_tags))
        if dropped:
            sqs.untag_queue(QueueUrl=rid, TagKeys=dropped)
        changed = {k: v for k, v in new_tags.items() if old_tags.get(k) != v}
        if changed:
            sqs.tag_queue(QueueUrl=rid, Tags=changed)
        return self._outputs(sqs, rid, old_outputs["name"], new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("sqs").delete_queue(QueueUrl=rid)

    @staticmethod
    def _outputs(sqs: Any, url: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return {"name": name, "arn": arn, "url": url, "tagsAll": dict(inputs.get("tags") or {})}


class _QueueAttribute(Handler):
    """One JSON attribute of a queue managed as its own resource; its id is the queue URL.
    Deleting it clears the attribute (the queue itself stays)."""

    attribute: str  # the SQS attribute
    wire: str  # the input that holds it
    replace_on = frozenset({"queueUrl"})
    name_keys = ()

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        self._set(ctx, inputs["queueUrl"], inputs[self.wire])
        return inputs["queueUrl"], {}

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        self._set(ctx, rid, new_inputs[self.wire])
        return {}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():  # also when the queue itself is gone
            self._set(ctx, rid, "")

    def _set(self, ctx: Context, url: str, value: str) -> None:
        ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={self.attribute: value})


class QueuePolicy(_QueueAttribute):
    type_token = "aws:sqs/queuePolicy:QueuePolicy"
    attribute = "Policy"
    wire = "policy"


class RedriveAllowPolicy(_QueueAttribute):
    """Which source queues may use this queue as their dead-letter queue."""

    type_token = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
    attribute = "RedriveAllowPolicy"
    wire = "redriveAllowPolicy"


HANDLERS: list[Handler] = [Queue(), QueuePolicy(), RedriveAllowPolicy()]
