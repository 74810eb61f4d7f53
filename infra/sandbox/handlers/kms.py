"""KMS: customer-managed keys and their aliases.

A key cannot be deleted at once: deleting one schedules its deletion, and a key pending
deletion counts as deleted (it can no longer be used, and deleting it again does nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.sandbox.handlers.base import (
    URN_TAG,
    Context,
    Handler,
    as_int,
    gone_is_fine,
    retag,
    tags_list,
)

# The shortest window KMS allows. The sandbox's keys live in a throwaway emulator, so the
# stack's own `deletionWindowInDays` (meant for real accounts) is recorded but not used.
DELETION_WINDOW_DAYS = 7
_GONE_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion"})


class Key(Handler):
    """A KMS key; its id is the key id. Usage, spec, multi-Region and key store are fixed at
    creation (a change replaces); description, policy, rotation, state and tags update."""

    type_token = "aws:kms/key:Key"
    replace_on = frozenset(
        {"keyUsage", "customerMasterKeySpec", "multiRegion", "customKeyStoreId", "xksKeyId"}
    )
    name_keys = ()

    def find_orphan(self, ctx: Context, inputs: Mapping[str, Any]) -> str | None:
        kms = ctx.client("kms")
        for key in kms.list_keys()["Keys"]:
            tags = kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
            if {"TagKey": URN_TAG, "TagValue": ctx.urn} in tags:
                state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
                if state != "PendingDeletion":
                    return str(key["KeyId"])
        return None

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        kms = ctx.client("kms")
        kwargs: dict[str, Any] = {}
        for wire, api in (
            ("description", "Description"),
            ("keyUsage", "KeyUsage"),
            ("customerMasterKeySpec", "KeySpec"),  # the API's current name for the spec
            ("policy", "Policy"),
        ):
            if inputs.get(wire):
                kwargs[api] = inputs[wire]
        if inputs.get("bypassPolicyLockoutSafetyCheck") is not None:
            kwargs["BypassPolicyLockoutSafetyCheck"] = bool(
                inputs["bypassPolicyLockoutSafetyCheck"]
            )
        if inputs.get("multiRegion") is not None:
            kwargs["MultiRegion"] = bool(inputs["multiRegion"])
        # As the provider does: a custom key store sets the key's origin with it.
        if inputs.get("customKeyStoreId"):
            kwargs.update(Origin="AWS_CLOUDHSM", CustomKeyStoreId=inputs["customKeyStoreId"])
        if inputs.get("xksKeyId"):
            kwargs.update(Origin="EXTERNAL_KEY_STORE", XksKeyId=inputs["xksKeyId"])
        # The URN tag lets an interrupted `up` find a key it created but never recorded.
        tags = {**(inputs.get("tags") or {}), URN_TAG: ctx.urn} if ctx.urn else inputs.get("tags")
        if tags:
            kwargs["Tags"] = tags_list(tags, key="TagKey", value="TagValue")
        metadata = kms.create_key(**kwargs)["KeyMetadata"]
        key_id = metadata["KeyId"]
        # Rotation before disabling: KMS refuses to change rotation of a disabled key.
        if inputs.get("enableKeyRotation"):
            self._rotation(kms, key_id, inputs)
        if inputs.get("isEnabled") is False:
            kms.disable_key(KeyId=key_id)
        return key_id, self._outputs(kms, key_id, metadata["Arn"], inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        kms = ctx.client("kms")
        changed = {k for k in {*old_inputs, *new_inputs} if old_inputs.get(k) != new_inputs.get(k)}
        enabled = new_inputs.get("isEnabled") is not False
        if "isEnabled" in changed and enabled:
            kms.enable_key(KeyId=rid)
        if "description" in changed:
            kms.update_key_description(KeyId=rid, Description=new_inputs.get("description") or "")
        if "policy" in changed and new_inputs.get("policy"):
            kms.put_key_policy(
                KeyId=rid,
                PolicyName="default",
                Policy=new_inputs["policy"],
                BypassPolicyLockoutSafetyCheck=bool(
                    new_inputs.get("bypassPolicyLockoutSafetyCheck")
                ),
            )
        if changed & {"enableKeyRotation", "rotationPeriodInDays"}:
            self._rotation(kms, rid, new_inputs)
        if "isEnabled" in changed and not enabled:
            kms.disable_key(KeyId=rid)
        retag(
            old_inputs,
            new_inputs,
            lambda tags: kms.tag_resource(
                KeyId=rid, Tags=tags_list(tags, key="TagKey", value="TagValue")
            ),
            lambda keys: kms.untag_resource(KeyId=rid, TagKeys=keys),
        )
        return self._outputs(kms, rid, old_outputs["arn"], new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        kms = ctx.client("kms")
        with gone_is_fine():
            # Aliases first: an alias of a key pending deletion still holds its name.
            for page in kms.get_paginator("list_aliases").paginate(KeyId=rid):
                for alias in page["Aliases"]:
                    kms.delete_alias(AliasName=alias["AliasName"])
            state = kms.describe_key(KeyId=rid)["KeyMetadata"]["KeyState"]
            if state not in _GONE_STATES:
                kms.schedule_key_deletion(KeyId=rid, PendingWindowInDays=DELETION_WINDOW_DAYS)

    @staticmethod
    def _rotation(kms: Any, key_id: str, inputs: Mapping[str, Any]) -> None:
        if inputs.get("enableKeyRotation"):
            kwargs: dict[str, Any] = {"KeyId": key_id}
            if inputs.get("rotationPeriodInDays") is not None:
                kwargs["RotationPeriodInDays"] = as_int(inputs["rotationPeriodInDays"])
            kms.enable_key_rotation(**kwargs)
        else:
            kms.disable_key_rotation(KeyId=key_id)

    @staticmethod
    def _outputs(kms: Any, key_id: str, arn: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        # The policy in force: the given one, or the default KMS attached when none was.
        policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        return {
            "arn": arn,
            "keyId": key_id,
            "policy": inputs.get("policy") or policy,
            "isEnabled": inputs.get("isEnabled") is not False,
            "enableKeyRotation": bool(inputs.get("enableKeyRotation")),
            "tagsAll": dict(inputs.get("tags") or {}),
        }


class Alias(Handler):
    """A key alias; its id is the alias name (`alias/...`). Pointing it at another key
    updates it in place; a new name replaces it (deleting the old name first)."""

    type_token = "aws:kms/alias:Alias"
    replace_on = frozenset({"name", "namePrefix"})
    id_is_name = True

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        kms = ctx.client("kms")
        if inputs.get("name"):
            name = str(inputs["name"])
        elif inputs.get("namePrefix"):
            name = f"{inputs['namePrefix']}{ctx.auto_name()[-7:]}"
        else:
            name = f"alias/{ctx.auto_name(max_length=250)}"
        kms.create_alias(AliasName=name, TargetKeyId=inputs["targetKeyId"])
        return name, self._outputs(ctx, kms, name, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        kms = ctx.client("kms")
        kms.update_alias(AliasName=rid, TargetKeyId=new_inputs["targetKeyId"])
        return self._outputs(ctx, kms, rid, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("kms").delete_alias(AliasName=rid)

    @staticmethod
    def _outputs(ctx: Context, kms: Any, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        target = kms.describe_key(KeyId=inputs["targetKeyId"])["KeyMetadata"]["Arn"]
        return {
            "name": name,
            "arn": f"arn:aws:kms:{ctx.region}:{ctx.account_id}:{name}",
            "targetKeyArn": target,
        }


HANDLERS: list[Handler] = [Key(), Alias()]
