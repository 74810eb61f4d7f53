"""Application Auto Scaling gap fills for moto 5.2: tags on scalable targets.

moto 5.2.5 drops the `Tags` given to RegisterScalableTarget and has no `TagResource`,
`UntagResource` or `ListTagsForResource` (its server answers 500 "action has not been
implemented"), so a scalable target's tags can be neither checked nor changed.

`install()` wraps moto's RegisterScalableTarget and DeregisterScalableTarget handlers and
adds the three tagging operations to its `ApplicationAutoScalingResponse`. Tags are kept by
target ARN in the backend instance's `__dict__`, which `BaseBackend.reset()` empties, so
`POST /moto-api/reset` clears them with the targets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeScalableTarget
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.exceptions import JsonRESTError

Response = ApplicationAutoScalingResponse
_MARK = "_mlops_gap_fill"


class ResourceNotFoundException(JsonRESTError):
    """What AWS answers for a tagging call on an ARN it does not know."""

    def __init__(self, arn: str) -> None:
        super().__init__("ResourceNotFoundException", f"No scalable target found for {arn}")


def _tags(backend: ApplicationAutoscalingBackend) -> dict[str, dict[str, str]]:
    # In the backend's __dict__ so that moto's reset (which empties it) clears ours too.
    return cast(dict[str, dict[str, str]], vars(backend).setdefault("mlops_target_tags", {}))


def _target(backend: ApplicationAutoscalingBackend, arn: str) -> FakeScalableTarget:
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return target
    raise ResourceNotFoundException(arn)


def _registering(original: Callable[[Response], str]) -> Callable[[Response], str]:
    def register_scalable_target(self: Response) -> str:
        """RegisterScalableTarget, keeping its Tags: only when it creates the target, as AWS
        applies tags at creation and ignores them when a registration updates a target."""
        backend = self.applicationautoscaling_backend
        existed = backend._scalable_target_exists(
            self._get_param("ResourceId"), self._get_param("ScalableDimension")
        )
        body = original(self)
        tags = self._get_param("Tags")
        if tags and not existed:
            _tags(backend)[json.loads(body)["ScalableTargetARN"]] = dict(tags)
        return body

    setattr(register_scalable_target, _MARK, True)
    return register_scalable_target


def _deregistering(original: Callable[[Response], str]) -> Callable[[Response], str]:
    def deregister_scalable_target(self: Response) -> str:
        """DeregisterScalableTarget, forgetting the target's tags with it."""
        backend = self.applicationautoscaling_backend
        by_resource = backend.targets.get(self._get_param("ScalableDimension"), {})
        target = by_resource.get(self._get_param("ResourceId"))
        body = original(self)
        if target is not None:
            _tags(backend).pop(target.arn, None)
        return body

    return deregister_scalable_target


def tag_resource(self: Response) -> str:
    """TagResource: add or overwrite tags of a scalable target."""
    arn = self._get_param("ResourceARN")
    _target(self.applicationautoscaling_backend, arn)
    tags: dict[str, Any] = self._get_param("Tags") or {}
    _tags(self.applicationautoscaling_backend).setdefault(arn, {}).update(tags)
    return "{}"


def untag_resource(self: Response) -> str:
    """UntagResource: remove tags by key; unknown keys are ignored, as AWS does."""
    arn = self._get_param("ResourceARN")
    _target(self.applicationautoscaling_backend, arn)
    held = _tags(self.applicationautoscaling_backend).get(arn, {})
    for key in self._get_param("TagKeys") or []:
        held.pop(key, None)
    return "{}"


def list_tags_for_resource(self: Response) -> str:
    """ListTagsForResource: the tags of a scalable target."""
    arn = self._get_param("ResourceARN")
    _target(self.applicationautoscaling_backend, arn)
    return json.dumps({"Tags": _tags(self.applicationautoscaling_backend).get(arn, {})})


_NEW_METHODS: dict[str, Callable[[Response], str]] = {
    "tag_resource": tag_resource,
    "untag_resource": untag_resource,
    "list_tags_for_resource": list_tags_for_resource,
}

_WRAPPED_METHODS: dict[str, Callable[[Callable[[Response], str]], Callable[[Response], str]]] = {
    "register_scalable_target": _registering,
    "deregister_scalable_target": _deregistering,
}


def install() -> list[str]:
    """Add the fills to moto's Application Auto Scaling handler once (idempotent)."""
    if not getattr(Response.register_scalable_target, _MARK, False):
        for name, wrap in _WRAPPED_METHODS.items():
            setattr(Response, name, wrap(getattr(Response, name)))
        for name, method in _NEW_METHODS.items():
            setattr(Response, name, method)
    names = ["register_scalable_target (Tags)", *sorted(_NEW_METHODS)]
    return [f"application-autoscaling:{name}" for name in names]
