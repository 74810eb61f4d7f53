"""IAM: roles, their inline and attached policies, managed policies, the GitHub OIDC provider.

IAM is global: its ARNs carry the account and no region. Policy documents arrive as JSON
strings and are passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from infra.sandbox.handlers.base import (
    ANY_CHANGE,
    Context,
    Handler,
    as_int,
    gone_is_fine,
    physical_name,
    retag,
    stable_suffix,
    tags_list,
)


class Role(Handler):
    """An IAM role; its id is the role name (as the provider's import takes it)."""

    type_token = "aws:iam/role:Role"
    id_is_name = True
    replace_on = frozenset({"name", "namePrefix", "path"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        iam = ctx.client("iam")
        name = physical_name(ctx, inputs, max_length=64)
        kwargs: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": inputs["assumeRolePolicy"],
            "Path": inputs.get("path") or "/",
        }
        if inputs.get("description"):
            kwargs["Description"] = inputs["description"]
        if inputs.get("maxSessionDuration") is not None:
            kwargs["MaxSessionDuration"] = as_int(inputs["maxSessionDuration"])
        if inputs.get("permissionsBoundary"):
            kwargs["PermissionsBoundary"] = inputs["permissionsBoundary"]
        if inputs.get("tags"):
            kwargs["Tags"] = tags_list(inputs["tags"])
        role = iam.create_role(**kwargs)["Role"]
        self._sync_exclusive(iam, name, {}, inputs)
        return name, self._outputs(role, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        iam = ctx.client("iam")
        changed = {k for k in {*old_inputs, *new_inputs} if old_inputs.get(k) != new_inputs.get(k)}
        if "assumeRolePolicy" in changed:
            iam.update_assume_role_policy(
                RoleName=rid, PolicyDocument=new_inputs["assumeRolePolicy"]
            )
        if changed & {"description", "maxSessionDuration"}:
            iam.update_role(
                RoleName=rid,
                Description=new_inputs.get("description") or "",
                MaxSessionDuration=as_int(new_inputs.get("maxSessionDuration"), 3600),
            )
        if "permissionsBoundary" in changed:
            if new_inputs.get("permissionsBoundary"):
                iam.put_role_permissions_boundary(
                    RoleName=rid, PermissionsBoundary=new_inputs["permissionsBoundary"]
                )
            else:
                iam.delete_role_permissions_boundary(RoleName=rid)
        retag(
            old_inputs,
            new_inputs,
            lambda tags: iam.tag_role(RoleName=rid, Tags=tags_list(tags)),
            lambda keys: iam.untag_role(RoleName=rid, TagKeys=keys),
        )
        self._sync_exclusive(iam, rid, old_inputs, new_inputs)
        return self._outputs(iam.get_role(RoleName=rid)["Role"], new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        iam = ctx.client("iam")
        with gone_is_fine():
            # As the provider does: instance profiles always let go of the role; attached
            # and inline policies are removed only when the role manages them itself (the
            # deprecated exclusive arguments) or force_detach_policies says so. Otherwise
            # their own resources were deleted first, dependents before the role.
            for profile in iam.list_instance_profiles_for_role(RoleName=rid)["InstanceProfiles"]:
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=profile["InstanceProfileName"], RoleName=rid
                )
            force = bool(outputs.get("forceDetachPolicies"))
            if force or outputs.get("managedPolicyArns"):
                for policy in iam.list_attached_role_policies(RoleName=rid)["AttachedPolicies"]:
                    iam.detach_role_policy(RoleName=rid, PolicyArn=policy["PolicyArn"])
            if force or outputs.get("inlinePolicies"):
                for policy_name in iam.list_role_policies(RoleName=rid)["PolicyNames"]:
                    iam.delete_role_policy(RoleName=rid, PolicyName=policy_name)
            iam.delete_role(RoleName=rid)

    def _sync_exclusive(
        self, iam: Any, name: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        """The deprecated `inlinePolicies` / `managedPolicyArns`: when given, the role holds
        exactly these (the provider removes any others)."""
        if new.get("inlinePolicies") is not None:
            wanted = {p["name"]: p["policy"] for p in new["inlinePolicies"] if p.get("name")}
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                if policy_name not in wanted:
                    iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
            for policy_name, document in wanted.items():
                iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)
        if new.get("managedPolicyArns") is not None:
            wanted_arns = set(new["managedPolicyArns"])
            attached = {
                p["PolicyArn"]
                for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            }
            for arn in sorted(attached - wanted_arns):
                iam.detach_role_policy(RoleName=name, PolicyArn=arn)
            for arn in sorted(wanted_arns - attached):
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)

    @staticmethod
    def _outputs(role: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": role["RoleName"],
            "arn": role["Arn"],
            "uniqueId": role["RoleId"],
            "path": role.get("Path", "/"),
            "createDate": str(role["CreateDate"]),
            "maxSessionDuration": role.get("MaxSessionDuration", 3600),
            "tagsAll": dict(inputs.get("tags") or {}),
        }


class RolePolicy(Handler):
    """An inline policy of a role; its id is `<role>:<policy name>` (the provider's import)."""

    type_token = "aws:iam/rolePolicy:RolePolicy"
    replace_on = frozenset({"role", "name", "namePrefix"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = physical_name(ctx, inputs, max_length=128)
        ctx.client("iam").put_role_policy(
            RoleName=inputs["role"], PolicyName=name, PolicyDocument=inputs["policy"]
        )
        return f"{inputs['role']}:{name}", {"name": name}

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        role, name = rid.split(":", 1)  # role names cannot contain ':'
        ctx.client("iam").put_role_policy(
            RoleName=role, PolicyName=name, PolicyDocument=new_inputs["policy"]
        )
        return {"name": name}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        role, name = rid.split(":", 1)
        with gone_is_fine():
            ctx.client("iam").delete_role_policy(RoleName=role, PolicyName=name)


_MAX_POLICY_VERSIONS = 5  # IAM keeps at most five versions of a managed policy


class Policy(Handler):
    """A customer-managed policy; its id is the ARN. A new document becomes a new default
    version (the oldest non-default one is deleted first when five exist, as the provider
    does); the description cannot change in IAM, so it replaces."""

    type_token = "aws:iam/policy:Policy"
    replace_on = frozenset({"name", "namePrefix", "path", "description"})

    def find_orphan(self, ctx: Context, inputs: Mapping[str, Any]) -> str | None:
        name = inputs.get("name")
        if not isinstance(name, str) or not name:
            return None
        path = inputs.get("path") or "/"
        return f"arn:aws:iam::{ctx.account_id}:policy{path}{name}"

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        iam = ctx.client("iam")
        kwargs: dict[str, Any] = {
            "PolicyName": physical_name(ctx, inputs, max_length=128),
            "PolicyDocument": inputs["policy"],
            "Path": inputs.get("path") or "/",
        }
        if inputs.get("description"):
            kwargs["Description"] = inputs["description"]
        if inputs.get("tags"):
            kwargs["Tags"] = tags_list(inputs["tags"])
        policy = iam.create_policy(**kwargs)["Policy"]
        return policy["Arn"], self._outputs(policy, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        iam = ctx.client("iam")
        if old_inputs.get("policy") != new_inputs.get("policy"):
            versions = iam.list_policy_versions(PolicyArn=rid)["Versions"]
            if len(versions) >= _MAX_POLICY_VERSIONS:
                oldest = min(
                    (v for v in versions if not v["IsDefaultVersion"]),
                    key=lambda v: v["CreateDate"],
                )
                iam.delete_policy_version(PolicyArn=rid, VersionId=oldest["VersionId"])
            iam.create_policy_version(
                PolicyArn=rid, PolicyDocument=new_inputs["policy"], SetAsDefault=True
            )
        retag(
            old_inputs,
            new_inputs,
            lambda tags: iam.tag_policy(PolicyArn=rid, Tags=tags_list(tags)),
            lambda keys: iam.untag_policy(PolicyArn=rid, TagKeys=keys),
        )
        return self._outputs(iam.get_policy(PolicyArn=rid)["Policy"], new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        iam = ctx.client("iam")
        with gone_is_fine():
            # IAM refuses to delete a policy that still has non-default versions.
            for version in iam.list_policy_versions(PolicyArn=rid)["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=rid, VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=rid)

    @staticmethod
    def _outputs(policy: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "arn": policy["Arn"],
            "name": policy["PolicyName"],
            "path": policy.get("Path", "/"),
            "policyId": policy["PolicyId"],
            "attachmentCount": policy.get("AttachmentCount", 0),
            "tagsAll": dict(inputs.get("tags") or {}),
        }


class RolePolicyAttachment(Handler):
    """A managed policy attached to a role. The provider's id is `<role>-<unique suffix>`;
    here the suffix is a hash of the policy ARN, so the id is stable across runs."""

    type_token = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    replace_on: ClassVar[frozenset[str]] = frozenset({ANY_CHANGE})
    name_keys = ()

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        role, arn = inputs["role"], inputs["policyArn"]
        ctx.client("iam").attach_role_policy(RoleName=role, PolicyArn=arn)
        return f"{role}-{stable_suffix(arn)}", {}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("iam").detach_role_policy(
                RoleName=outputs["role"], PolicyArn=outputs["policyArn"]
            )


class OpenIdConnectProvider(Handler):
    """An OIDC identity provider; its id is the ARN, fixed by the URL (a new URL replaces).

    Client IDs, thumbprints and tags change in place. `url` is reported as IAM stores it,
    without the scheme, as the provider reads it back.
    """

    type_token = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"

    def find_orphan(self, ctx: Context, inputs: Mapping[str, Any]) -> str | None:
        url = str(inputs.get("url") or "").removeprefix("https://")
        return f"arn:aws:iam::{ctx.account_id}:oidc-provider/{url}" if url else None

    replace_on = frozenset({"url"})
    name_keys = ()

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        iam = ctx.client("iam")
        kwargs: dict[str, Any] = {
            "Url": inputs["url"],
            "ClientIDList": list(inputs.get("clientIdLists") or []),
        }
        # No thumbprints is valid: IAM then trusts the IdP's certificate through its CAs.
        if inputs.get("thumbprintLists"):
            kwargs["ThumbprintList"] = list(inputs["thumbprintLists"])
        if inputs.get("tags"):
            kwargs["Tags"] = tags_list(inputs["tags"])
        arn = iam.create_open_id_connect_provider(**kwargs)["OpenIDConnectProviderArn"]
        return arn, self._outputs(iam, arn, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        iam = ctx.client("iam")
        old_ids = set(old_inputs.get("clientIdLists") or [])
        new_ids = set(new_inputs.get("clientIdLists") or [])
        for client_id in sorted(new_ids - old_ids):
            iam.add_client_id_to_open_id_connect_provider(
                OpenIDConnectProviderArn=rid, ClientID=client_id
            )
        for client_id in sorted(old_ids - new_ids):
            iam.remove_client_id_from_open_id_connect_provider(
                OpenIDConnectProviderArn=rid, ClientID=client_id
            )
        if old_inputs.get("thumbprintLists") != new_inputs.get("thumbprintLists"):
            iam.update_open_id_connect_provider_thumbprint(
                OpenIDConnectProviderArn=rid,
                ThumbprintList=list(new_inputs.get("thumbprintLists") or []),
            )
        retag(
            old_inputs,
            new_inputs,
            lambda tags: iam.tag_open_id_connect_provider(
                OpenIDConnectProviderArn=rid, Tags=tags_list(tags)
            ),
            lambda keys: iam.untag_open_id_connect_provider(
                OpenIDConnectProviderArn=rid, TagKeys=keys
            ),
        )
        return self._outputs(iam, rid, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine():
            ctx.client("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=rid)

    @staticmethod
    def _outputs(iam: Any, arn: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        return {
            "arn": arn,
            "url": provider["Url"],
            "clientIdLists": list(provider.get("ClientIDList") or []),
            "thumbprintLists": list(provider.get("ThumbprintList") or []),
            "tagsAll": dict(inputs.get("tags") or {}),
        }


HANDLERS: list[Handler] = [
    Role(),
    RolePolicy(),
    Policy(),
    RolePolicyAttachment(),
    OpenIdConnectProvider(),
]
