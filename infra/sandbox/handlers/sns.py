"""SNS: topics, their access policies, and subscriptions.

Topic and subscription settings are SNS attributes (strings); the tables below say which
input is which attribute. A topic's id is its ARN, a subscription's its subscription ARN.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infra.sandbox.handlers.base import (
    Context,
    Handler,
    attribute_string,
    gone_is_fine,
    not_found,
    physical_name,
    tags_list,
)


def _attributes(inputs: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, str]:
    attributes = {
        api: attribute_string(inputs[wire])
        for wire, api in names.items()
        if inputs.get(wire) is not None
    }
    # A standard topic is one without the attribute, as the provider sends it.
    if attributes.get("FifoTopic") == "false":
        del attributes["FifoTopic"]
    return attributes


def _feedback(prefix: str, api_prefix: str) -> dict[str, str]:
    return {
        f"{prefix}SuccessFeedbackRoleArn": f"{api_prefix}SuccessFeedbackRoleArn",
        f"{prefix}SuccessFeedbackSampleRate": f"{api_prefix}SuccessFeedbackSampleRate",
        f"{prefix}FailureFeedbackRoleArn": f"{api_prefix}FailureFeedbackRoleArn",
    }


# What CreateTopic accepts; the delivery-status (feedback) attributes are set after it.
_TOPIC_CREATE_ATTRIBUTES = {
    "fifoTopic": "FifoTopic",
    "contentBasedDeduplication": "ContentBasedDeduplication",
    "fifoThroughputScope": "FifoThroughputScope",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "policy": "Policy",
    "deliveryPolicy": "DeliveryPolicy",
    "displayName": "DisplayName",
    "signatureVersion": "SignatureVersion",
    "tracingConfig": "TracingConfig",
    "archivePolicy": "ArchivePolicy",
    "maximumMessageSize": "MaximumMessageSize",
}
_TOPIC_LATER_ATTRIBUTES = {
    **_feedback("application", "Application"),
    **_feedback("http", "HTTP"),
    **_feedback("lambda", "Lambda"),
    **_feedback("sqs", "SQS"),
    **_feedback("firehose", "Firehose"),
}
_TOPIC_ATTRIBUTES = {**_TOPIC_CREATE_ATTRIBUTES, **_TOPIC_LATER_ATTRIBUTES}


def _default_topic_policy(topic_arn: str) -> str:
    """The policy SNS gives a new topic (what the provider restores when a TopicPolicy goes):
    only the owning account may use the topic."""
    account = topic_arn.split(":")[4]
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes",
                        "SNS:AddPermission",
                        "SNS:RemovePermission",
                        "SNS:DeleteTopic",
                        "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish",
                    ],
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                }
            ],
        }
    )


class Topic(Handler):
    """A topic; its id is the ARN. Name and FIFO-ness are fixed (a change replaces it); every
    other attribute changes in place with SetTopicAttributes."""

    type_token = "aws:sns/topic:Topic"

    def find_orphan(self, ctx: Context, inputs: Mapping[str, Any]) -> str | None:
        name = inputs.get("name")
        if not isinstance(name, str) or not name:
            return None
        return f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{name}"

    replace_on = frozenset({"name", "namePrefix", "fifoTopic"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        sns = ctx.client("sns")
        suffix = ".fifo" if inputs.get("fifoTopic") else ""
        name = physical_name(ctx, inputs, max_length=256, suffix=suffix)
        request: dict[str, Any] = {
            "Name": name,
            "Attributes": _attributes(inputs, _TOPIC_CREATE_ATTRIBUTES),
        }
        if inputs.get("tags"):
            request["Tags"] = tags_list(inputs["tags"])
        arn = sns.create_topic(**request)["TopicArn"]
        for api, value in _attributes(inputs, _TOPIC_LATER_ATTRIBUTES).items():
            sns.set_topic_attributes(TopicArn=arn, AttributeName=api, AttributeValue=value)
        return arn, self._outputs(sns, arn, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        sns = ctx.client("sns")
        old, new = (
            _attributes(old_inputs, _TOPIC_ATTRIBUTES),
            _attributes(new_inputs, _TOPIC_ATTRIBUTES),
        )
        for api in sorted({*old, *new}):
            if old.get(api) != new.get(api):
                # An attribute no longer given is cleared ("" restores SNS's default).
                sns.set_topic_attributes(
                    TopicArn=rid, AttributeName=api, AttributeValue=new.get(api, "")
                )
        old_tags, new_tags = dict(old_inputs.get("tags") or {}), dict(new_inputs.get("tags") or {})
        dropped = sorted(set(old_tags) - set(new_tags))
        if dropped:
            sns.untag_resource(ResourceArn=rid, TagKeys=dropped)
        changed = {k: v for k, v in new_tags.items() if old_tags.get(k) != v}
        if changed:
            sns.tag_resource(ResourceArn=rid, Tags=tags_list(changed))
        return self._outputs(sns, rid, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("sns").delete_topic(TopicArn=rid)

    @staticmethod
    def _outputs(sns: Any, arn: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        return {
            "arn": arn,
            "name": arn.rsplit(":", 1)[-1],
            "owner": attributes.get("Owner", ""),
            # The policy in force: the given one, or the default SNS attached.
            "policy": inputs.get("policy") or attributes.get("Policy", ""),
            "tagsAll": dict(inputs.get("tags") or {}),
        }


class TopicPolicy(Handler):
    """The access policy of a topic; its id is the topic ARN. Deleting it restores the
    default policy (a topic always has one), as the provider does."""

    type_token = "aws:sns/topicPolicy:TopicPolicy"
    replace_on = frozenset({"arn"})
    name_keys = ()

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        return inputs["arn"], self._put(ctx, inputs["arn"], inputs["policy"])

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        return self._put(ctx, rid, new_inputs["policy"])

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():  # also when the topic itself is gone
            self._put(ctx, rid, _default_topic_policy(rid))

    @staticmethod
    def _put(ctx: Context, arn: str, policy: str) -> dict[str, Any]:
        ctx.client("sns").set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=policy
        )
        return {"owner": arn.split(":")[4]}


_SUBSCRIPTION_ATTRIBUTES = {
    "deliveryPolicy": "DeliveryPolicy",
    "filterPolicy": "FilterPolicy",
    "filterPolicyScope": "FilterPolicyScope",
    "rawMessageDelivery": "RawMessageDelivery",
    "redrivePolicy": "RedrivePolicy",
    "replayPolicy": "ReplayPolicy",
    "subscriptionRoleArn": "SubscriptionRoleArn",
}
# What clearing an attribute means: SNS keeps RawMessageDelivery as "false", others as "".
_SUBSCRIPTION_CLEARED = {"RawMessageDelivery": "false"}


class TopicSubscription(Handler):
    """A subscription; its id is the subscription ARN. Topic, protocol and endpoint are fixed
    (a change replaces it); filter, delivery and redrive settings change in place.

    An email subscription stays pending until someone confirms it (the emulator may confirm
    at once); `pendingConfirmation` reports which.
    """

    type_token = "aws:sns/topicSubscription:TopicSubscription"
    replace_on = frozenset({"topic", "protocol", "endpoint"})
    name_keys = ()

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        sns = ctx.client("sns")
        arn = sns.subscribe(
            TopicArn=inputs["topic"],
            Protocol=inputs["protocol"],
            Endpoint=inputs["endpoint"],
            Attributes=_attributes(inputs, _SUBSCRIPTION_ATTRIBUTES),
            ReturnSubscriptionArn=True,  # the real ARN, even while confirmation is pending
        )["SubscriptionArn"]
        return arn, self._outputs(sns, arn)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        sns = ctx.client("sns")
        old = _attributes(old_inputs, _SUBSCRIPTION_ATTRIBUTES)
        new = _attributes(new_inputs, _SUBSCRIPTION_ATTRIBUTES)
        for api in sorted({*old, *new}):
            if old.get(api) != new.get(api):
                value = new.get(api, _SUBSCRIPTION_CLEARED.get(api, ""))
                sns.set_subscription_attributes(
                    SubscriptionArn=rid, AttributeName=api, AttributeValue=value
                )
        return self._outputs(sns, rid)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        try:
            ctx.client("sns").unsubscribe(SubscriptionArn=rid)
        except Exception as exc:
            # SNS refuses to unsubscribe one still pending confirmation; it lapses by itself
            # after three days, which is also all the provider can do.
            if not (not_found(exc) or "pending confirmation" in str(exc).lower()):
                raise

    @staticmethod
    def _outputs(sns: Any, arn: str) -> dict[str, Any]:
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        return {
            "arn": arn,
            "ownerId": attributes.get("Owner", ""),
            "pendingConfirmation": attributes.get("PendingConfirmation") == "true",
            "confirmationWasAuthenticated": (
                attributes.get("ConfirmationWasAuthenticated") == "true"
            ),
        }


HANDLERS: list[Handler] = [Topic(), TopicPolicy(), TopicSubscription()]
