"""S3 policies.

pulumi-aws v7 splits a bucket's settings into companion resources (BucketVersioning,
BucketServerSideEncryptionConfiguration, ...), so most checks are stack-level: every bucket
must have the companion, matched by its ``bucket`` value or — during preview, when the
bucket's id is unknown — by the engine's property dependency on the bucket's URN. The
legacy ``...V2`` tokens and the inline (deprecated) properties of ``Bucket``/``BucketV2``
are accepted too, so programs written for v6 are checked as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NotRequired, TypedDict, Unpack

from pulumi_policy import EnforcementLevel, Policy

from ._documents import (
    actions,
    condition_value_false,
    effect_is,
    grants_everyone,
    principal_is_everyone,
    statements,
)
from ._framework import (
    Finding,
    MlopsResourcePolicy,
    MlopsStackPolicy,
    Node,
    StackGraph,
    Subject,
    identifiers,
    known_string,
    references,
)
from ._values import (
    PASS,
    UNKNOWN,
    UNSURE,
    Tri,
    Verdict,
    best,
    combine_all,
    fail,
    first,
    from_tri,
    get,
    is_aws_managed_key,
    items,
    strings,
    truth,
)

BUCKET_TYPES: Final = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
VERSIONING_TYPES: Final = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
SSE_TYPES: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
PUBLIC_ACCESS_BLOCK_TYPES: Final = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES: Final = (
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
)
BUCKET_POLICY_TYPES: Final = ("aws:s3/bucketPolicy:BucketPolicy",)
LOGGING_TYPES: Final = (
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketLoggingV2:BucketLoggingV2",
)
LIFECYCLE_TYPES: Final = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
OWNERSHIP_TYPES: Final = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
ACL_TYPES: Final = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
OBJECT_TYPES: Final = ("aws:s3/bucketObject:BucketObject", "aws:s3/bucketObjectv2:BucketObjectv2")
ENDPOINT_CONFIG_TYPE: Final = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"

KMS_ALGORITHMS: Final = frozenset({"aws:kms", "aws:kms:dsse"})
PUBLIC_CANNED_ACLS: Final = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GROUP_MARKERS: Final = ("/global/AllUsers", "/global/AuthenticatedUsers")
PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)

CompanionCheck = Callable[[Node], Verdict]


def bucket_ids(node: Node) -> set[str]:
    """What a companion's ``bucket`` may hold: the bucket name or its id (the same for S3)."""
    return identifiers(node, "bucket", "id")


def inline_block(node: Node, *keys: str) -> list[Any]:
    """An inline (legacy) settings block of a bucket, as a list.

    A top-level UNKNOWN counts as absent: in preview outputs the provider marks every
    computed-but-unset inline block unknown, so "unknown" there means "not configured
    inline", not "configured to something we cannot see yet".
    """
    value = first(node.props, *keys)
    if value is UNKNOWN:
        return []
    return items(value)


def linked_companions(graph: StackGraph, companion_types: tuple[str, ...]) -> dict[str, list[Node]]:
    """Bucket URN -> companion resources of ``companion_types`` that configure it."""
    buckets = graph.of_type(*BUCKET_TYPES)
    links: dict[str, list[Node]] = {bucket.urn: [] for bucket in buckets}
    for companion in graph.of_type(*companion_types):
        for bucket in references(companion, "bucket", buckets, bucket_ids):
            links[bucket.urn].append(companion)
    return links


class Requirement(TypedDict):
    """What :func:`bucket_requirement` checks and how it words a violation."""

    companion_types: tuple[str, ...]
    companion_check: CompanionCheck
    inline_check: CompanionCheck | None
    missing: str  # completes "S3 bucket '<name>' ..."
    fix: str
    buckets: NotRequired[list[Node]]  # default: every bucket of the stack


def bucket_requirement(graph: StackGraph, **requirement: Unpack[Requirement]) -> Iterator[Finding]:
    """Every bucket needs a passing companion, or (without any companion) passing inline data.

    Companions take precedence over inline properties because the inline ones are
    deprecated and, in stack outputs, may be stale read-backs of the live bucket.
    """
    companion_check, inline_check = requirement["companion_check"], requirement["inline_check"]
    missing, fix = requirement["missing"], requirement["fix"]
    links = linked_companions(graph, requirement["companion_types"])
    for bucket in requirement.get("buckets", graph.of_type(*BUCKET_TYPES)):
        attached = links.get(bucket.urn, [])
        if attached:
            verdicts = [(companion, companion_check(companion)) for companion in attached]
            if any(not verdict.failed for _, verdict in verdicts):
                continue
            for companion, verdict in verdicts:
                yield Finding(
                    companion.urn,
                    f"{companion.type.rsplit(':', 1)[-1]} '{companion.name}' of S3 bucket "
                    f"'{bucket.name}' {verdict.reason}. {fix}",
                )
            continue
        inline = inline_check(bucket) if inline_check else fail(missing)
        if inline.failed:
            yield Finding(bucket.urn, f"S3 bucket '{bucket.name}' {missing}. {fix}")


# --- versioning -------------------------------------------------------------------------


def _versioning_companion(node: Node) -> Verdict:
    status = get(node.props, "versioningConfiguration", "status")
    if status is UNKNOWN:
        return UNSURE
    if status == "Enabled":
        return PASS
    if status is None:
        return fail("sets no versioning status")
    return fail(f"sets versioning status '{status}'")


def _versioning_inline(node: Node) -> Verdict:
    verdicts = [
        truth(get(block, "enabled")) for block in inline_block(node, "versioning", "versionings")
    ]
    if any(v is Tri.YES for v in verdicts):
        return PASS
    if any(v is Tri.UNSURE for v in verdicts):
        return UNSURE
    return fail("is not versioned")


def _check_versioned(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    return bucket_requirement(
        graph,
        companion_types=VERSIONING_TYPES,
        companion_check=_versioning_companion,
        inline_check=_versioning_inline,
        missing="has no versioning (no aws.s3.BucketVersioning targets it)",
        fix=(
            "Add aws.s3.BucketVersioning(bucket=<bucket>.id, "
            "versioning_configuration={'status': 'Enabled'})."
        ),
    )


# --- encryption -------------------------------------------------------------------------


def _sse_default(default: Any) -> Verdict:
    algorithm = get(default, "sseAlgorithm")
    if default is UNKNOWN or algorithm is UNKNOWN:
        return UNSURE
    if algorithm not in KMS_ALGORITHMS:
        return fail(f"encrypts with '{algorithm}' instead of 'aws:kms'")
    key = get(default, "kmsMasterKeyId")
    if key is None:
        return fail("uses SSE-KMS with the AWS-managed key instead of a customer-managed key")
    if is_aws_managed_key(key):
        return fail(f"uses the AWS-managed key '{key}' instead of a customer-managed key")
    return PASS


def _sse_rules(rules: list[Any]) -> Verdict:
    verdicts: list[Verdict] = []
    for rule in rules:
        if rule is UNKNOWN:
            verdicts.append(UNSURE)
            continue
        defaults = items(
            first(rule, "applyServerSideEncryptionByDefault", "applyServerSideEncryptionByDefaults")
        )
        verdicts.extend(_sse_default(default) for default in defaults)
    return best(verdicts, "has no default encryption rule")


def _sse_companion(node: Node) -> Verdict:
    rules = first(node.props, "rules", "rule")
    if rules is UNKNOWN:
        return UNSURE
    return _sse_rules(items(rules))


def _inline_sse_rules(node: Node) -> list[Any]:
    rules: list[Any] = []
    for block in inline_block(
        node, "serverSideEncryptionConfiguration", "serverSideEncryptionConfigurations"
    ):
        rules.extend(items(first(block, "rule", "rules")))
    return rules


def _sse_inline(node: Node) -> Verdict:
    return _sse_rules(_inline_sse_rules(node))


def _sse_s3_default(default: Any) -> Verdict:
    algorithm = get(default, "sseAlgorithm")
    if default is UNKNOWN or algorithm is UNKNOWN:
        return UNSURE
    if algorithm == "AES256":
        return PASS
    return fail(
        f"encrypts with '{algorithm}', but S3 delivers server access logs only to buckets "
        "encrypted with SSE-S3 (AES256)"
    )


def _sse_s3_rules(rules: list[Any]) -> Verdict:
    verdicts: list[Verdict] = []
    for rule in rules:
        if rule is UNKNOWN:
            verdicts.append(UNSURE)
            continue
        defaults = items(
            first(rule, "applyServerSideEncryptionByDefault", "applyServerSideEncryptionByDefaults")
        )
        verdicts.extend(_sse_s3_default(default) for default in defaults)
    return best(verdicts, "has no default encryption rule")


def _check_sse_kms(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    log_targets = _log_targets(graph)
    buckets = graph.of_type(*BUCKET_TYPES)
    yield from bucket_requirement(
        graph,
        companion_types=SSE_TYPES,
        companion_check=_sse_companion,
        inline_check=_sse_inline,
        missing="has no SSE-KMS default encryption",
        fix=(
            "Add aws.s3.BucketServerSideEncryptionConfiguration(bucket=<bucket>.id, rules=[{"
            "'apply_server_side_encryption_by_default': {'sse_algorithm': 'aws:kms', "
            "'kms_master_key_id': <key>.arn}, 'bucket_key_enabled': True}])."
        ),
        buckets=[b for b in buckets if b.urn not in log_targets],
    )
    # Access-log target buckets are the exception: log delivery supports only SSE-S3.
    yield from bucket_requirement(
        graph,
        companion_types=SSE_TYPES,
        companion_check=lambda node: _sse_s3_rules(items(first(node.props, "rules", "rule"))),
        inline_check=lambda node: _sse_s3_rules(_inline_sse_rules(node)),
        missing="receives access logs but has no default encryption",
        fix=(
            "Add aws.s3.BucketServerSideEncryptionConfiguration(bucket=<bucket>.id, rules=[{"
            "'apply_server_side_encryption_by_default': {'sse_algorithm': 'AES256'}}])."
        ),
        buckets=[b for b in buckets if b.urn in log_targets],
    )


# --- public access block ----------------------------------------------------------------


def _public_access_block(node: Node) -> Verdict:
    states = {flag: truth(get(node.props, flag)) for flag in PUBLIC_ACCESS_FLAGS}
    off = [flag for flag, state in states.items() if state is Tri.NO]
    if off:
        return fail("leaves " + ", ".join(off) + " off")
    return UNSURE if Tri.UNSURE in states.values() else PASS


def _check_public_access_block(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    # An account-wide block with all four flags covers every bucket in the account.
    account_blocks = graph.of_type(*ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES)
    if any(not _public_access_block(block).failed for block in account_blocks):
        return iter(())
    return bucket_requirement(
        graph,
        companion_types=PUBLIC_ACCESS_BLOCK_TYPES,
        companion_check=_public_access_block,
        inline_check=None,
        missing="has no aws.s3.BucketPublicAccessBlock",
        fix=(
            "Add aws.s3.BucketPublicAccessBlock(bucket=<bucket>.id, block_public_acls=True, "
            "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)."
        ),
    )


# --- TLS-only bucket policy -------------------------------------------------------------


def _denies_insecure_transport(statement: Any) -> Tri:
    if statement is UNKNOWN:
        return Tri.UNSURE
    names, unsure = actions(statement)
    if any(name in ("s3:*", "*") for name in names):
        covers = Tri.YES
    else:
        covers = Tri.UNSURE if unsure else Tri.NO
    return combine_all(
        [
            effect_is(statement, "Deny"),
            principal_is_everyone(get(statement, "Principal")),
            covers,
            condition_value_false(statement, "aws:SecureTransport", ("Bool", "BoolIfExists")),
        ]
    )


def _tls_policy(document: Any) -> Verdict:
    states = [_denies_insecure_transport(st) for st in statements(document)]
    if Tri.YES in states:
        return PASS
    if Tri.UNSURE in states:
        return UNSURE
    return fail("has no statement denying s3:* to '*' when aws:SecureTransport is false")


def _tls_companion(node: Node) -> Verdict:
    return _tls_policy(get(node.props, "policy"))


def _tls_inline(node: Node) -> Verdict:
    policy = get(node.props, "policy")
    if policy is None or policy is UNKNOWN:  # unknown inline = computed, see inline_block
        return fail("has no bucket policy")
    return _tls_policy(policy)


def _check_tls_only(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    return bucket_requirement(
        graph,
        companion_types=BUCKET_POLICY_TYPES,
        companion_check=_tls_companion,
        inline_check=_tls_inline,
        missing="does not enforce TLS (no bucket policy denies aws:SecureTransport=false)",
        fix=(
            "Add an aws.s3.BucketPolicy with {'Effect': 'Deny', 'Principal': '*', "
            "'Action': 's3:*', 'Resource': [<arn>, <arn>/*], "
            "'Condition': {'Bool': {'aws:SecureTransport': 'false'}}}."
        ),
    )


# --- public ACLs and policies (resource level) ------------------------------------------


def _public_grant_uris(grants: Any) -> list[str]:
    uris: list[str] = []
    for grant in items(grants):
        for uri in strings(first(grant, "uri"))[0] + strings(get(grant, "grantee", "uri"))[0]:
            if any(marker in uri for marker in PUBLIC_GROUP_MARKERS):
                uris.append(uri)
    return uris


def _check_public_acl(subject: Subject) -> Iterator[str]:
    kind = subject.type.rsplit(":", 1)[-1]
    acl = get(subject.props, "acl")
    if isinstance(acl, str) and acl in PUBLIC_CANNED_ACLS:
        yield (
            f"{kind} '{subject.name}' uses the public canned ACL '{acl}'. Use 'private' (or no "
            "ACL with BucketOwnerEnforced ownership) and share data through IAM instead."
        )
    grants = first(subject.props, "grants")
    if grants is None:
        grants = get(subject.props, "accessControlPolicy", "grants")
    for uri in _public_grant_uris(grants):
        yield (
            f"{kind} '{subject.name}' grants access to the public group {uri}. Remove the "
            "grant and share data through IAM principals instead."
        )


def _check_public_policy(subject: Subject) -> Iterator[str]:
    kind = subject.type.rsplit(":", 1)[-1]
    for index, statement in enumerate(statements(get(subject.props, "policy"))):
        if grants_everyone(statement) is Tri.YES:
            sid = get(statement, "Sid")
            which = f"statement {index}" + (f" ('{sid}')" if isinstance(sid, str) else "")
            yield (
                f"{kind} '{subject.name}' {which} allows Principal '*' without a restricting "
                "condition. Name the principals (account roles) or add a condition such as "
                "aws:PrincipalOrgID / aws:SourceVpce."
            )


# --- access logging ---------------------------------------------------------------------


def _log_targets(graph: StackGraph) -> set[str]:
    """URNs of buckets that receive other buckets' access logs.

    They are exempt from logging themselves and must use SSE-S3. A bucket that only logs
    into itself is not a log bucket (s3-log-bucket-not-self reports it): it keeps the
    data-bucket requirements, or pointing a bucket's logs at itself would waive them.
    """
    buckets = graph.of_type(*BUCKET_TYPES)
    targets: set[str] = set()
    for logging in graph.of_type(*LOGGING_TYPES):
        if _logs_to_itself(logging, buckets):
            continue
        targets.update(b.urn for b in references(logging, "targetBucket", buckets, bucket_ids))
    for bucket in buckets:
        for block in inline_block(bucket, "logging", "loggings"):
            target = known_string(get(block, "targetBucket"))
            targets.update(
                b.urn for b in buckets if target and target in bucket_ids(b) and b.urn != bucket.urn
            )
    return targets


def _logging_inline(node: Node) -> Verdict:
    blocks = inline_block(node, "logging", "loggings")
    return PASS if any(get(block, "targetBucket") is not None for block in blocks) else fail("")


def _check_access_logging(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    exempt = _log_targets(graph)
    return bucket_requirement(
        graph,
        companion_types=LOGGING_TYPES,
        companion_check=lambda _node: PASS,
        inline_check=_logging_inline,
        missing="has no server access logging",
        fix=(
            "Add aws.s3.BucketLogging(bucket=<bucket>.id, target_bucket=<log bucket>.id, "
            "target_prefix='<bucket>/') pointing at a dedicated log bucket."
        ),
        buckets=[b for b in graph.of_type(*BUCKET_TYPES) if b.urn not in exempt],
    )


def _bucket_urns(node: Node, prop: str, buckets: list[Node]) -> set[str]:
    by_property = node.property_dependencies.get(prop)
    if by_property:
        return set(by_property)
    value = known_string(get(node.props, prop))
    return {b.urn for b in buckets if value and value in bucket_ids(b)}


def _logs_to_itself(node: Node, buckets: list[Node]) -> bool:
    source = known_string(get(node.props, "bucket"))
    target = known_string(get(node.props, "targetBucket"))
    if source and target:
        return source == target
    # Only property dependencies or values count here: falling back to plain dependencies
    # would link both properties to the same set and report every logging resource.
    return bool(_bucket_urns(node, "bucket", buckets) & _bucket_urns(node, "targetBucket", buckets))


def _check_log_not_self(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    buckets = graph.of_type(*BUCKET_TYPES)
    for logging in graph.of_type(*LOGGING_TYPES):
        if _logs_to_itself(logging, buckets):
            yield Finding(
                logging.urn,
                f"BucketLogging '{logging.name}' delivers a bucket's access logs into the same "
                "bucket, which logs its own log writes forever. Point target_bucket at a "
                "separate log bucket.",
            )
    for bucket in buckets:
        own = bucket_ids(bucket)
        for block in inline_block(bucket, "logging", "loggings"):
            target = known_string(get(block, "targetBucket"))
            if target and target in own:
                yield Finding(
                    bucket.urn,
                    f"S3 bucket '{bucket.name}' logs to itself. Point its logging target at a "
                    "separate log bucket.",
                )


# --- lifecycle on capture data ----------------------------------------------------------


def _s3_uri_bucket(uri: str) -> str | None:
    if not uri.startswith("s3://"):
        return None
    name = uri[len("s3://") :].split("/", 1)[0]
    return name or None


def _capture_buckets(graph: StackGraph) -> list[Node]:
    """Buckets an endpoint configuration writes data capture into."""
    buckets = graph.of_type(*BUCKET_TYPES)
    found: dict[str, Node] = {}
    for config in graph.of_type(ENDPOINT_CONFIG_TYPE):
        capture = get(config.props, "dataCaptureConfig")
        # No (known) capture, or capture switched off: no capture data lands anywhere.
        if capture is None or capture is UNKNOWN or get(capture, "enableCapture") is False:
            continue
        destination = get(capture, "destinationS3Uri")
        bucket_name = _s3_uri_bucket(destination) if isinstance(destination, str) else destination
        linked = references(config, "dataCaptureConfig", buckets, bucket_ids, bucket_name)
        found.update((bucket.urn, bucket) for bucket in linked)
    return list(found.values())


_EXPIRY_KEYS: Final = (
    "expiration",
    "expirations",
    "transitions",
    "noncurrentVersionExpiration",
    "noncurrentVersionExpirations",
    "noncurrentVersionTransitions",
)


_NO_EXPIRY: Final = "has no enabled rule that expires or transitions objects"


def _rule_expires(rule: Any, enabled: Tri) -> Verdict:
    if rule is UNKNOWN:
        return UNSURE
    has_action = Tri.YES if any(get(rule, key) is not None for key in _EXPIRY_KEYS) else Tri.NO
    return from_tri(combine_all([enabled, has_action]), _NO_EXPIRY)


def _lifecycle_companion(node: Node) -> Verdict:
    rules = get(node.props, "rules")
    if rules is UNKNOWN:
        return UNSURE
    verdicts = []
    for rule in items(rules):
        status = get(rule, "status")
        enabled = Tri.UNSURE if status is UNKNOWN else (Tri.YES if status == "Enabled" else Tri.NO)
        verdicts.append(_rule_expires(rule, enabled))
    return best(verdicts, _NO_EXPIRY)


def _lifecycle_inline(node: Node) -> Verdict:
    rules = inline_block(node, "lifecycleRules")
    verdicts = [_rule_expires(rule, truth(get(rule, "enabled"))) for rule in rules]
    return best(verdicts, _NO_EXPIRY)


def _check_capture_lifecycle(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    return bucket_requirement(
        graph,
        companion_types=LIFECYCLE_TYPES,
        companion_check=_lifecycle_companion,
        inline_check=_lifecycle_inline,
        missing="receives SageMaker data capture but has no lifecycle rule expiring it",
        fix=(
            "Add aws.s3.BucketLifecycleConfiguration(bucket=<bucket>.id, rules=[{'id': "
            "'expire-capture', 'status': 'Enabled', 'filter': {'prefix': '<capture prefix>'}, "
            "'expiration': {'days': <retention>}}])."
        ),
        buckets=_capture_buckets(graph),
    )


# --- object ownership -------------------------------------------------------------------


def _ownership_companion(node: Node) -> Verdict:
    ownership = first(get(node.props, "rule"), "objectOwnership")
    if ownership is None:
        ownership = get(node.props, "rules", 0, "objectOwnership")
    if ownership is UNKNOWN:
        return UNSURE
    if ownership == "BucketOwnerEnforced":
        return PASS
    return fail(f"sets object ownership '{ownership}' (ACLs stay enabled)")


def _check_owner_enforced(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    return bucket_requirement(
        graph,
        companion_types=OWNERSHIP_TYPES,
        companion_check=_ownership_companion,
        inline_check=None,
        missing="has no aws.s3.BucketOwnershipControls (ACLs stay enabled)",
        fix=(
            "Add aws.s3.BucketOwnershipControls(bucket=<bucket>.id, "
            "rule={'object_ownership': 'BucketOwnerEnforced'})."
        ),
    )


# --- force destroy ----------------------------------------------------------------------


def _check_no_force_destroy(subject: Subject) -> Iterator[str]:
    if truth(get(subject.props, "forceDestroy")) is Tri.YES:
        yield (
            f"S3 bucket '{subject.name}' sets force_destroy=True, so `pulumi destroy` deletes "
            "every object version with it. Remove force_destroy (empty the bucket explicitly "
            "when an ephemeral stack really must go)."
        )


POLICIES: Final[list[Policy]] = [
    MlopsStackPolicy(
        name="s3-bucket-versioned",
        description="Checks that every S3 bucket has versioning enabled.",
        level=EnforcementLevel.MANDATORY,
        resource_types=BUCKET_TYPES + VERSIONING_TYPES,
        check=_check_versioned,
        remediation="Add an aws.s3.BucketVersioning with status 'Enabled' for the bucket.",
    ),
    MlopsStackPolicy(
        name="s3-bucket-sse-kms",
        description=(
            "Checks that every S3 bucket encrypts by default with SSE-KMS under a "
            "customer-managed key (access-log target buckets: with SSE-S3, the only "
            "encryption S3 log delivery supports)."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=BUCKET_TYPES + SSE_TYPES,
        check=_check_sse_kms,
        remediation=(
            "Add an aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm "
            "'aws:kms' and kms_master_key_id set to a customer-managed key."
        ),
    ),
    MlopsStackPolicy(
        name="s3-bucket-public-access-blocked",
        description=(
            "Checks that every S3 bucket has a public access block with all four settings "
            "enabled (or the stack sets an account-wide block)."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=BUCKET_TYPES + PUBLIC_ACCESS_BLOCK_TYPES + ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES,
        check=_check_public_access_block,
        remediation=(
            "Add an aws.s3.BucketPublicAccessBlock with block_public_acls, "
            "block_public_policy, ignore_public_acls and restrict_public_buckets all True."
        ),
    ),
    MlopsStackPolicy(
        name="s3-bucket-tls-only",
        description=(
            "Checks that every S3 bucket has a bucket policy denying requests when "
            "aws:SecureTransport is false (TLS only)."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=BUCKET_TYPES + BUCKET_POLICY_TYPES,
        check=_check_tls_only,
        remediation=(
            "Attach an aws.s3.BucketPolicy with a Deny of s3:* to Principal '*' under "
            "Condition {'Bool': {'aws:SecureTransport': 'false'}}."
        ),
    ),
    MlopsResourcePolicy(
        name="s3-bucket-no-public-acl",
        description=(
            "Checks that no S3 bucket, bucket ACL or object uses a public canned ACL or grants "
            "to the AllUsers/AuthenticatedUsers groups."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=BUCKET_TYPES + ACL_TYPES + OBJECT_TYPES,
        check=_check_public_acl,
        remediation="Use the 'private' ACL (or none, with BucketOwnerEnforced) and IAM grants.",
    ),
    MlopsResourcePolicy(
        name="s3-bucket-policy-no-public-allow",
        description=(
            "Checks that no S3 bucket policy allows Principal '*' without a condition that "
            "restricts it to an account, organisation or network."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=BUCKET_TYPES + BUCKET_POLICY_TYPES,
        check=_check_public_policy,
        remediation=(
            "Grant named principals, or add aws:PrincipalOrgID / aws:SourceVpce / "
            "aws:PrincipalAccount conditions to the Allow statement."
        ),
    ),
    MlopsStackPolicy(
        name="s3-bucket-access-logging",
        description=(
            "Checks that every S3 bucket except log-target buckets has server access logging."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=BUCKET_TYPES + LOGGING_TYPES,
        check=_check_access_logging,
        remediation="Add an aws.s3.BucketLogging that sends the bucket's logs to a log bucket.",
    ),
    MlopsStackPolicy(
        name="s3-log-bucket-not-self",
        description="Checks that no S3 bucket delivers its access logs into itself.",
        level=EnforcementLevel.MANDATORY,
        resource_types=BUCKET_TYPES + LOGGING_TYPES,
        check=_check_log_not_self,
        remediation="Set target_bucket to a dedicated log bucket that is not the source bucket.",
    ),
    MlopsStackPolicy(
        name="s3-capture-bucket-lifecycle",
        description=(
            "Checks that every S3 bucket receiving SageMaker data capture has an enabled "
            "lifecycle rule that expires or transitions the captured data."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=BUCKET_TYPES + LIFECYCLE_TYPES + (ENDPOINT_CONFIG_TYPE,),
        check=_check_capture_lifecycle,
        remediation=(
            "Add an aws.s3.BucketLifecycleConfiguration with an Enabled rule that expires the "
            "capture prefix after the retention period."
        ),
    ),
    MlopsStackPolicy(
        name="s3-bucket-owner-enforced",
        description=(
            "Checks that every S3 bucket has BucketOwnerEnforced object ownership (ACLs disabled)."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=BUCKET_TYPES + OWNERSHIP_TYPES,
        check=_check_owner_enforced,
        remediation=(
            "Add an aws.s3.BucketOwnershipControls with rule object_ownership "
            "'BucketOwnerEnforced'."
        ),
    ),
    MlopsResourcePolicy(
        name="s3-bucket-no-force-destroy",
        description=(
            "Checks that no S3 bucket sets force_destroy, which deletes all data on destroy."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=BUCKET_TYPES,
        check=_check_no_force_destroy,
        remediation="Remove force_destroy=True from the bucket.",
    ),
]
