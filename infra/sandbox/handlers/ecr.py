"""ECR: image repositories and their lifecycle policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.sandbox.handlers.base import Context, Handler, PutHandler, gone_is_fine, retag, tags_list


def _mutability(inputs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"imageTagMutability": inputs.get("imageTagMutability") or "MUTABLE"}
    filters = inputs.get("imageTagMutabilityExclusionFilters")
    if filters:
        out["imageTagMutabilityExclusionFilters"] = [
            {"filter": f["filter"], "filterType": f["filterType"]} for f in filters
        ]
    return out


class Repository(Handler):
    """A repository; its id is the name. ECR cannot change a repository's encryption, so a
    new encryption configuration replaces it; scanning, tag mutability and tags update."""

    type_token = "aws:ecr/repository:Repository"
    id_is_name = True
    replace_on = frozenset({"name", "encryptionConfigurations"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        ecr = ctx.client("ecr")
        name = inputs.get("name") or ctx.auto_name(max_length=256).lower()
        kwargs: dict[str, Any] = {"repositoryName": name, **_mutability(inputs)}
        encryption = (inputs.get("encryptionConfigurations") or [None])[0]
        if encryption:
            kwargs["encryptionConfiguration"] = {
                "encryptionType": encryption.get("encryptionType") or "AES256"
            }
            if encryption.get("kmsKey"):
                kwargs["encryptionConfiguration"]["kmsKey"] = encryption["kmsKey"]
        scanning = inputs.get("imageScanningConfiguration")
        if scanning:
            kwargs["imageScanningConfiguration"] = {"scanOnPush": bool(scanning.get("scanOnPush"))}
        if inputs.get("tags"):
            kwargs["tags"] = tags_list(inputs["tags"])
        repository = ecr.create_repository(**kwargs)["repository"]
        return name, self._outputs(repository, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        ecr = ctx.client("ecr")
        if old_inputs.get("imageScanningConfiguration") != new_inputs.get(
            "imageScanningConfiguration"
        ):
            scanning = new_inputs.get("imageScanningConfiguration") or {}
            ecr.put_image_scanning_configuration(
                repositoryName=rid,
                imageScanningConfiguration={"scanOnPush": bool(scanning.get("scanOnPush"))},
            )
        if _mutability(old_inputs) != _mutability(new_inputs):
            ecr.put_image_tag_mutability(repositoryName=rid, **_mutability(new_inputs))
        arn = old_outputs["arn"]
        retag(
            old_inputs,
            new_inputs,
            lambda tags: ecr.tag_resource(resourceArn=arn, tags=tags_list(tags)),
            lambda keys: ecr.untag_resource(resourceArn=arn, tagKeys=keys),
        )
        repository = ecr.describe_repositories(repositoryNames=[rid])["repositories"][0]
        return self._outputs(repository, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        # forceDelete=False (the stacks' setting) keeps a repository that still holds
        # images: ECR then refuses, and the error says so.
        with gone_is_fine():
            ctx.client("ecr").delete_repository(
                repositoryName=rid, force=bool(outputs.get("forceDelete"))
            )

    @staticmethod
    def _outputs(repository: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": repository["repositoryName"],
            "arn": repository["repositoryArn"],
            "registryId": repository["registryId"],
            "repositoryUrl": repository["repositoryUri"],
            "tagsAll": dict(inputs.get("tags") or {}),
        }


class LifecyclePolicy(PutHandler):
    """The lifecycle policy of a repository; its id is the repository name."""

    type_token = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
    replace_on = frozenset({"repository"})
    name_keys = ()

    def id_for(self, ctx: Context, inputs: Mapping[str, Any]) -> str:
        return str(inputs["repository"])

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():  # also when the repository itself is gone
            ctx.client("ecr").delete_lifecycle_policy(repositoryName=rid)

    def put(self, ctx: Context, rid: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        answer = ctx.client("ecr").put_lifecycle_policy(
            repositoryName=rid, lifecyclePolicyText=inputs["policy"]
        )
        return {"registryId": answer["registryId"]}


HANDLERS: list[Handler] = [Repository(), LifecyclePolicy()]
