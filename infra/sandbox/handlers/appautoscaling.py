"""Application Auto Scaling: scalable targets (e.g. an endpoint variant's instance count) and
their scaling policies.

Registering an existing target, or putting an existing policy, updates it in place: both
are updated by repeating the call with the new settings, as the provider does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.sandbox.handlers.base import (
    Context,
    Fields,
    Handler,
    HandlerError,
    PutHandler,
    gone_is_fine,
    mapped,
    mapped_each,
    mapped_one,
    retag,
)


def _key(inputs: Mapping[str, Any]) -> dict[str, str]:
    """What names a scalable target: namespace, resource id and dimension."""
    return {
        "ServiceNamespace": inputs["serviceNamespace"],
        "ResourceId": inputs["resourceId"],
        "ScalableDimension": inputs["scalableDimension"],
    }


class Target(Handler):
    """A scalable target; its id is the resource id (the provider's id). Namespace, resource
    and dimension name it (a change replaces it); capacities, role and suspension update."""

    type_token = "aws:appautoscaling/target:Target"
    replace_on = frozenset({"serviceNamespace", "resourceId", "scalableDimension"})
    name_keys = ()

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        request = self._request(inputs)
        if inputs.get("tags"):
            request["Tags"] = dict(inputs["tags"])  # a map, unlike most AWS APIs
        arn = ctx.client("application-autoscaling").register_scalable_target(**request)[
            "ScalableTargetARN"
        ]
        return inputs["resourceId"], {"arn": arn, "tagsAll": dict(inputs.get("tags") or {})}

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        scaling = ctx.client("application-autoscaling")
        if self._request(old_inputs) != self._request(new_inputs):
            scaling.register_scalable_target(**self._request(new_inputs))
        # Tags given to RegisterScalableTarget apply only when it creates the target.
        arn = old_outputs["arn"]
        retag(
            old_inputs,
            new_inputs,
            lambda tags: scaling.tag_resource(ResourceARN=arn, Tags=tags),  # a map here
            lambda keys: scaling.untag_resource(ResourceARN=arn, TagKeys=keys),
        )
        return {"arn": arn, "tagsAll": dict(new_inputs.get("tags") or {})}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("application-autoscaling").deregister_scalable_target(**_key(outputs))

    @staticmethod
    def _request(inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **_key(inputs),
            **mapped(
                inputs,
                {
                    "minCapacity": ("MinCapacity", int),
                    "maxCapacity": ("MaxCapacity", int),
                    "roleArn": ("RoleARN", str),
                    "suspendedState": (
                        "SuspendedState",
                        mapped_one(
                            {
                                "dynamicScalingInSuspended": ("DynamicScalingInSuspended", bool),
                                "dynamicScalingOutSuspended": ("DynamicScalingOutSuspended", bool),
                                "scheduledScalingSuspended": ("ScheduledScalingSuspended", bool),
                            }
                        ),
                    ),
                },
            ),
        }


_DIMENSIONS: Fields = {"name": ("Name", str), "value": ("Value", str)}
_METRIC_QUERY: Fields = {
    "id": ("Id", str),
    "expression": ("Expression", str),
    "label": ("Label", str),
    "returnData": ("ReturnData", bool),
    "metricStat": (
        "MetricStat",
        mapped_one(
            {
                "metric": (
                    "Metric",
                    mapped_one(
                        {
                            "metricName": ("MetricName", str),
                            "namespace": ("Namespace", str),
                            "dimensions": ("Dimensions", mapped_each(_DIMENSIONS)),
                        }
                    ),
                ),
                "stat": ("Stat", str),
                "unit": ("Unit", str),
            }
        ),
    ),
}
_TARGET_TRACKING: Fields = {
    "targetValue": ("TargetValue", float),
    "disableScaleIn": ("DisableScaleIn", bool),
    "scaleInCooldown": ("ScaleInCooldown", int),
    "scaleOutCooldown": ("ScaleOutCooldown", int),
    "predefinedMetricSpecification": (
        "PredefinedMetricSpecification",
        mapped_one(
            {
                "predefinedMetricType": ("PredefinedMetricType", str),
                "resourceLabel": ("ResourceLabel", str),
            }
        ),
    ),
    "customizedMetricSpecification": (
        "CustomizedMetricSpecification",
        mapped_one(
            {
                "metricName": ("MetricName", str),
                "namespace": ("Namespace", str),
                "statistic": ("Statistic", str),
                "unit": ("Unit", str),
                "dimensions": ("Dimensions", mapped_each(_DIMENSIONS)),
                "metrics": ("Metrics", mapped_each(_METRIC_QUERY)),
            }
        ),
    ),
}
_STEP_SCALING: Fields = {
    "adjustmentType": ("AdjustmentType", str),
    "cooldown": ("Cooldown", int),
    "metricAggregationType": ("MetricAggregationType", str),
    "minAdjustmentMagnitude": ("MinAdjustmentMagnitude", int),
    "stepAdjustments": (
        "StepAdjustments",
        mapped_each(
            {
                # Strings in the provider's schema (so that "" can mean unbounded).
                "metricIntervalLowerBound": (
                    "MetricIntervalLowerBound",
                    lambda bound: float(bound) if bound != "" else None,
                ),
                "metricIntervalUpperBound": (
                    "MetricIntervalUpperBound",
                    lambda bound: float(bound) if bound != "" else None,
                ),
                "scalingAdjustment": ("ScalingAdjustment", int),
            }
        ),
    ),
}


class Policy(PutHandler):
    """A scaling policy; its id is the policy name (the provider's id). PutScalingPolicy
    overwrites a policy of the same name on the same target, so only the name or the target
    replaces it. Names are unique per target, and a replacement always changes one of them,
    so the new policy can be created before the old one goes."""

    type_token = "aws:appautoscaling/policy:Policy"
    replace_on = frozenset({"name", "serviceNamespace", "resourceId", "scalableDimension"})
    name_keys = ()

    def id_for(self, ctx: Context, inputs: Mapping[str, Any]) -> str:
        return str(inputs.get("name") or ctx.auto_name(max_length=255))

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("application-autoscaling").delete_scaling_policy(
                PolicyName=rid, **_key(outputs)
            )

    def put(self, ctx: Context, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if inputs.get("predictiveScalingPolicyConfiguration") is not None:
            raise HandlerError(
                f"{self.type_token} {name!r}: the sandbox does not emulate predictive scaling. "
                "Fix: leave predictiveScalingPolicyConfiguration out of the sandbox stack, or "
                "deploy with --engine pulumi."
            )
        request: dict[str, Any] = {
            "PolicyName": name,
            **_key(inputs),
            **mapped(
                inputs,
                {
                    "policyType": ("PolicyType", str),
                    "targetTrackingScalingPolicyConfiguration": (
                        "TargetTrackingScalingPolicyConfiguration",
                        mapped_one(_TARGET_TRACKING),
                    ),
                    "stepScalingPolicyConfiguration": (
                        "StepScalingPolicyConfiguration",
                        mapped_one(_STEP_SCALING),
                    ),
                },
            ),
        }
        answer = ctx.client("application-autoscaling").put_scaling_policy(**request)
        return {
            "name": name,
            "arn": answer["PolicyARN"],
            "alarmArns": [alarm["AlarmARN"] for alarm in answer.get("Alarms") or []],
        }


HANDLERS: list[Handler] = [Target(), Policy()]
