"""S3: the bucket and the separate configuration resources pulumi-aws v7 splits it into."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from infra.sandbox.handlers.base import Context, Handler, PutHandler, as_int, not_found, tags_list


def _arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


class Bucket(Handler):
    type_token = "aws:s3/bucket:Bucket"
    id_is_name = True
    replace_on = frozenset({"bucket", "bucketPrefix", "objectLockEnabled"})
    name_keys = ("bucket",)

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        s3 = ctx.client("s3")
        name = inputs.get("bucket") or (
            f"{inputs['bucketPrefix']}{ctx.auto_name(max_length=63)[-7:]}"
            if inputs.get("bucketPrefix")
            else ctx.auto_name()
        )
        kwargs: dict[str, Any] = {"Bucket": name}
        if ctx.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        if inputs.get("objectLockEnabled"):
            kwargs["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**kwargs)
        self._tag(s3, name, inputs)
        return name, self._outputs(ctx, name, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        self._tag(ctx.client("s3"), rid, new_inputs)
        return self._outputs(ctx, rid, new_inputs)

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        s3 = ctx.client("s3")
        # A versioned bucket only goes once every version and delete marker is gone.
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=rid):
            doomed = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if doomed:
                s3.delete_objects(
                    Bucket=rid,
                    Delete={"Objects": doomed, "Quiet": True},
                    BypassGovernanceRetention=True,
                )
        s3.delete_bucket(Bucket=rid)

    def _tag(self, s3: Any, name: str, inputs: Mapping[str, Any]) -> None:
        tags = inputs.get("tags") or {}
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags_list(tags)})

    def _outputs(self, ctx: Context, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "bucket": name,
            "arn": _arn(name),
            "bucketDomainName": f"{name}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
            "region": ctx.region,
            "tagsAll": dict(inputs.get("tags") or {}),
        }


class _BucketPart(PutHandler):
    """A configuration of one bucket: its id is the bucket name; updates put it again."""

    replace_on: ClassVar[frozenset[str]] = frozenset({"bucket"})
    name_keys = ()

    def id_for(self, ctx: Context, inputs: Mapping[str, Any]) -> str:
        return str(inputs["bucket"])

    def put(self, ctx: Context, rid: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        self.write(ctx.client("s3"), rid, inputs)
        return {}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        try:
            self.remove(ctx.client("s3"), rid)
        except Exception as exc:
            if not not_found(exc):  # the bucket itself may already be gone
                raise

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def remove(self, s3: Any, bucket: str) -> None:
        raise NotImplementedError


class BucketVersioning(_BucketPart):
    type_token = "aws:s3/bucketVersioning:BucketVersioning"

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        status = inputs["versioningConfiguration"]["status"]
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})

    def remove(self, s3: Any, bucket: str) -> None:
        # Versioning can never be switched off again, only suspended (as the provider does).
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})


class BucketServerSideEncryptionConfiguration(_BucketPart):
    type_token = (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        rules = []
        for rule in inputs["rules"]:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            entry: dict[str, Any] = {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": default["sseAlgorithm"]}
            }
            if default.get("kmsMasterKeyId"):
                entry["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default[
                    "kmsMasterKeyId"
                ]
            if "bucketKeyEnabled" in rule:
                entry["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
            rules.append(entry)
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_bucket_encryption(Bucket=bucket)


class BucketPublicAccessBlock(_BucketPart):
    type_token = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    _FLAGS = {
        "blockPublicAcls": "BlockPublicAcls",
        "blockPublicPolicy": "BlockPublicPolicy",
        "ignorePublicAcls": "IgnorePublicAcls",
        "restrictPublicBuckets": "RestrictPublicBuckets",
    }

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        config = {aws: bool(inputs.get(wire, False)) for wire, aws in self._FLAGS.items()}
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=config)

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_public_access_block(Bucket=bucket)


class BucketOwnershipControls(_BucketPart):
    type_token = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        ownership = inputs["rule"]["objectOwnership"]
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]}
        )

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_bucket_ownership_controls(Bucket=bucket)


class BucketPolicy(_BucketPart):
    type_token = "aws:s3/bucketPolicy:BucketPolicy"

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        s3.put_bucket_policy(Bucket=bucket, Policy=inputs["policy"])

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_bucket_policy(Bucket=bucket)


class BucketLogging(_BucketPart):
    type_token = "aws:s3/bucketLogging:BucketLogging"

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        s3.put_bucket_logging(
            Bucket=bucket,
            BucketLoggingStatus={
                "LoggingEnabled": {
                    "TargetBucket": inputs["targetBucket"],
                    "TargetPrefix": inputs.get("targetPrefix", ""),
                }
            },
        )

    def remove(self, s3: Any, bucket: str) -> None:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ID": rule.get("id", ""), "Status": rule.get("status", "Enabled")}
    filt = rule.get("filter") or {}
    out["Filter"] = {"Prefix": filt.get("prefix", "")}
    if rule.get("expiration") and rule["expiration"].get("days") is not None:
        out["Expiration"] = {"Days": as_int(rule["expiration"]["days"])}
    nve = rule.get("noncurrentVersionExpiration")
    if nve and nve.get("noncurrentDays") is not None:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": as_int(nve["noncurrentDays"])}
    abort = rule.get("abortIncompleteMultipartUpload")
    if abort and abort.get("daysAfterInitiation") is not None:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": as_int(abort["daysAfterInitiation"])
        }
    transitions = [
        {"Days": as_int(t["days"]), "StorageClass": t["storageClass"]}
        for t in rule.get("transitions") or []
        if t.get("days") is not None
    ]
    if transitions:
        out["Transitions"] = transitions
    return out


class BucketLifecycleConfiguration(_BucketPart):
    type_token = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        rules = [_lifecycle_rule(rule) for rule in inputs["rules"]]
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}
        )

    def remove(self, s3: Any, bucket: str) -> None:
        s3.delete_bucket_lifecycle(Bucket=bucket)


class BucketObjectLockConfiguration(_BucketPart):
    type_token = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"

    def write(self, s3: Any, bucket: str, inputs: Mapping[str, Any]) -> None:
        config: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
        retention = (inputs.get("rule") or {}).get("defaultRetention") or {}
        if retention:
            default: dict[str, Any] = {"Mode": retention["mode"]}
            if retention.get("days") is not None:
                default["Days"] = as_int(retention["days"])
            if retention.get("years") is not None:
                default["Years"] = as_int(retention["years"])
            config["Rule"] = {"DefaultRetention": default}
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)

    def remove(self, s3: Any, bucket: str) -> None:
        # Object lock cannot be disabled once on; the bucket's deletion ends it.
        return None


HANDLERS: list[Handler] = [
    Bucket(),
    BucketVersioning(),
    BucketServerSideEncryptionConfiguration(),
    BucketPublicAccessBlock(),
    BucketOwnershipControls(),
    BucketPolicy(),
    BucketLogging(),
    BucketLifecycleConfiguration(),
    BucketObjectLockConfiguration(),
]
