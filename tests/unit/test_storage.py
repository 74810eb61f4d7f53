"""Storage: bucket policies and lifecycle rules as pure data, the component under mocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pulumi
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from infra.naming import bucket_name
from infra.plan import UNKNOWN, Plan, ProgramError
from infra.storage import (
    STANDARD_IA_MIN_DAYS,
    Storage,
    StorageArgs,
    access_log_prefix,
    bucket_arn,
    bucket_policy,
    lifecycle_rules,
)
from tests.unit.harness import plan_component, spy_registered_outputs

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "mlops-platform-test"
TAGS = {"project": "mlops-platform", "environment": "dev"}
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f6d1bd8-8c1c-4c2b-9a52-5b1d2b8e7a11"
ROLES = ("datasets", "models", "capture", "logs")
DATA_ROLES = ("datasets", "models", "capture")
S3 = "aws:s3/"


def _run(program: Callable[[], Any], *, preview: bool = False) -> Plan:
    return plan_component(program, region=REGION, preview=preview)


def _args(**overrides: Any) -> StorageArgs:
    values: dict[str, Any] = {
        "prefix": PREFIX,
        "tags": TAGS,
        "account_id": ACCOUNT,
        "region": REGION,
        "kms_key_arn": KEY_ARN,
    }
    return StorageArgs(**{**values, **overrides})


def _storage(preview: bool = False, **overrides: Any) -> Plan:
    return _run(lambda: Storage("st", _args(**overrides)), preview=preview)


def _name(role: str) -> str:
    return bucket_name(PREFIX, role, ACCOUNT, REGION)


def _by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def _rule(plan: Plan, role: str) -> dict[str, Any]:
    rules = plan.get(f"st-{role}-lifecycle").inputs["rules"]
    assert len(rules) == 1
    return dict(rules[0])


def _is_denied(policy: dict[str, Any], action: str, context: Mapping[str, str | None]) -> bool:
    """A tiny evaluator for the Deny statements this module writes (enough to test the
    Null + StringNotEquals logic): operators are ANDed; a missing key in StringNotEquals
    does not match; Null: "false" means "present"."""

    def matches(op: str, key: str, expected: Any) -> bool:
        value = context.get(key)
        if op == "Null":
            return (value is None) == (expected == "true")
        if value is None:
            return False
        if op == "StringNotEquals":
            return value != expected
        if op == "StringEquals":
            return value == expected
        if op == "Bool":
            return value == expected
        if op == "NumericLessThan":
            return float(value) < float(expected)
        raise AssertionError(f"operator {op} not modelled")

    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny":
            continue
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if not any(a in (action, "s3:*") for a in actions):
            continue
        condition = statement.get("Condition", {})
        if all(matches(op, k, v) for op, block in condition.items() for k, v in block.items()):
            return True
    return False


SECURE = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}


# ---------------------------------------------------------------------------- pure: policy


def test_every_bucket_denies_plain_http_and_old_tls() -> None:
    for policy in (
        bucket_policy("arn:aws:s3:::b"),
        bucket_policy("arn:aws:s3:::b", kms_key_arn=KEY_ARN),
    ):
        assert _is_denied(policy, "s3:GetObject", {"aws:SecureTransport": "false"})
        assert _is_denied(policy, "s3:GetObject", {**SECURE, "s3:TlsVersion": "1.1"})
        assert not _is_denied(policy, "s3:GetObject", SECURE)
        for sid in ("DenyInsecureTransport", "DenyOutdatedTls"):
            statement = _by_sid(policy)[sid]
            assert statement["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]


@pytest.mark.parametrize(
    ("headers", "denied"),
    [
        ({}, False),  # relies on the bucket default (SSE-KMS with the stack key)
        ({"s3:x-amz-server-side-encryption": "aws:kms"}, False),
        (
            {
                "s3:x-amz-server-side-encryption": "aws:kms",
                "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN,
            },
            False,
        ),
        ({"s3:x-amz-server-side-encryption": "AES256"}, True),
        ({"s3:x-amz-server-side-encryption": "aws:kms:dsse"}, True),
        (
            {
                "s3:x-amz-server-side-encryption": "aws:kms",
                "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN.replace("0f6d", "dead"),
            },
            True,
        ),
        ({"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"}, True),
    ],
)
def test_uploads_must_not_ask_for_weaker_or_foreign_encryption(
    headers: dict[str, str], denied: bool
) -> None:
    policy = bucket_policy("arn:aws:s3:::b", kms_key_arn=KEY_ARN)
    assert _is_denied(policy, "s3:PutObject", {**SECURE, **headers}) is denied
    # Reads are never judged by upload headers.
    assert not _is_denied(policy, "s3:GetObject", {**SECURE, **headers})


def test_null_and_string_not_equals_go_together() -> None:
    """The documented pattern: deny when the header is present AND not aws:kms."""
    statement = _by_sid(bucket_policy("arn:aws:s3:::b", kms_key_arn=KEY_ARN))[
        "DenyNonKmsEncryptionHeader"
    ]
    assert statement["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption": "false"},
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
    }
    assert statement["Resource"] == "arn:aws:s3:::b/*"


def test_log_delivery_grant_is_scoped() -> None:
    sources = {"datasets/": "arn:aws:s3:::d", "models/": "arn:aws:s3:::m"}
    policy = bucket_policy("arn:aws:s3:::logs", account_id=ACCOUNT, access_log_sources=sources)
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    grant = allows[0]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert grant["Action"] == "s3:PutObject"
    assert grant["Resource"] == ["arn:aws:s3:::logs/datasets/*", "arn:aws:s3:::logs/models/*"]
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert grant["Condition"]["ArnLike"] == {"aws:SourceArn": ["arn:aws:s3:::d", "arn:aws:s3:::m"]}


def test_log_delivery_needs_the_account() -> None:
    with pytest.raises(ValueError, match="account_id"):
        bucket_policy("arn:aws:s3:::logs", access_log_sources={"x/": "arn:aws:s3:::x"})


def test_bucket_arn_partitions() -> None:
    assert bucket_arn("b", "eu-west-1") == "arn:aws:s3:::b"
    assert bucket_arn("b", "cn-north-1") == "arn:aws-cn:s3:::b"
    assert bucket_arn("b", "us-gov-west-1") == "arn:aws-us-gov:s3:::b"


@given(
    name=st.from_regex(r"[a-z0-9][a-z0-9.-]{2,61}[a-z0-9]", fullmatch=True),
    with_key=st.booleans(),
    sources=st.dictionaries(
        st.from_regex(r"[a-z]{1,10}/", fullmatch=True),
        st.from_regex(r"arn:aws:s3:::[a-z0-9-]{3,20}", fullmatch=True),
        max_size=4,
    ),
)
def test_bucket_policies_never_grant_everyone(
    name: str, with_key: bool, sources: dict[str, str]
) -> None:
    arn = f"arn:aws:s3:::{name}"
    policy = bucket_policy(
        arn,
        kms_key_arn=KEY_ARN if with_key else None,
        account_id=ACCOUNT,
        access_log_sources=sources,
    )
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(set(sids)) == len(sids) and all(sids)
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            # Allows go to a named service, for one action, guarded by the source.
            assert statement["Principal"] != "*" and "Service" in statement["Principal"]
            assert "*" not in statement["Action"]
            assert {"StringEquals", "ArnLike"} <= set(statement["Condition"])
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            assert resource == arn or resource.startswith(f"{arn}/")
    assert _is_denied(policy, "s3:PutObject", {"aws:SecureTransport": "false"})


# ---------------------------------------------------------------------------- pure: lifecycle


def test_lifecycle_without_expiration_cleans_delete_markers() -> None:
    (rule,) = lifecycle_rules(noncurrent_version_days=90, abort_incomplete_upload_days=7)
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {}
    assert rule["noncurrent_version_expiration"] == {"noncurrent_days": 90}
    assert rule["abort_incomplete_multipart_upload"] == {"days_after_initiation": 7}
    assert rule["expiration"] == {"expired_object_delete_marker": True}
    assert "transitions" not in rule


@pytest.mark.parametrize("days", [1, 29])
def test_standard_ia_needs_30_days(days: int) -> None:
    with pytest.raises(ValueError, match="at least 30"):
        lifecycle_rules(
            noncurrent_version_days=1,
            abort_incomplete_upload_days=1,
            transition_days=days,
            expiration_days=365,
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"noncurrent_version_days": 0, "abort_incomplete_upload_days": 1},
        {"noncurrent_version_days": 1, "abort_incomplete_upload_days": 0},
        {"noncurrent_version_days": 1, "abort_incomplete_upload_days": 1, "expiration_days": 0},
        {"noncurrent_version_days": 1, "abort_incomplete_upload_days": 1, "transition_days": -1},
        {
            "noncurrent_version_days": 1,
            "abort_incomplete_upload_days": 1,
            "transition_days": 60,
            "expiration_days": 60,
        },
    ],
)
def test_lifecycle_rejects_impossible_days(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        lifecycle_rules(**kwargs)


@given(
    noncurrent=st.integers(1, 3650),
    abort=st.integers(1, 365),
    transition=st.one_of(st.just(0), st.integers(STANDARD_IA_MIN_DAYS, 3650)),
    expiration=st.one_of(st.none(), st.integers(1, 5000)),
)
def test_lifecycle_rules_are_always_coherent(
    noncurrent: int, abort: int, transition: int, expiration: int | None
) -> None:
    def build() -> list[Any]:  # plain dicts to the assertions (not Input unions)
        return lifecycle_rules(
            noncurrent_version_days=noncurrent,
            abort_incomplete_upload_days=abort,
            transition_days=transition,
            expiration_days=expiration,
        )

    if transition and expiration is not None and expiration <= transition:
        with pytest.raises(ValueError, match="expire"):
            build()
        return
    (rule,) = build()
    assert rule["noncurrent_version_expiration"]["noncurrent_days"] == noncurrent
    assert rule["abort_incomplete_multipart_upload"]["days_after_initiation"] == abort
    # S3 forbids Days and ExpiredObjectDeleteMarker together.
    assert len(rule["expiration"]) == 1
    if expiration is None:
        assert rule["expiration"] == {"expired_object_delete_marker": True}
    else:
        assert rule["expiration"] == {"days": expiration}
    transitions = rule.get("transitions", [])
    assert len(transitions) == (1 if transition else 0)
    for step in transitions:
        assert step["storage_class"] == "STANDARD_IA"
        assert step["days"] >= STANDARD_IA_MIN_DAYS
        if expiration is not None:
            assert step["days"] < expiration


@given(transition=st.integers(1, STANDARD_IA_MIN_DAYS - 1), expiration=st.integers(1, 5000))
def test_early_transitions_always_refused(transition: int, expiration: int) -> None:
    assume(expiration > transition)
    with pytest.raises(ValueError, match="STANDARD_IA"):
        lifecycle_rules(
            noncurrent_version_days=1,
            abort_incomplete_upload_days=1,
            transition_days=transition,
            expiration_days=expiration,
        )


# ---------------------------------------------------------------------------- component


@pytest.mark.parametrize("preview", [False, True])
def test_four_buckets_with_deterministic_names(preview: bool) -> None:
    plan = _storage(preview)
    buckets = {r.name: r for r in plan.by_type(f"{S3}bucket:Bucket")}
    assert sorted(buckets) == sorted(f"st-{role}" for role in ROLES)
    for role in ROLES:
        bucket = buckets[f"st-{role}"]
        assert bucket.inputs["bucket"] == _name(role)
        assert bucket.inputs["forceDestroy"] is False
        assert bucket.inputs["tags"]["Name"] == _name(role)
        assert bucket.inputs["tags"]["project"] == TAGS["project"]
        assert bucket.inputs["tags"]["bucket-role"] == role
    assert not plan.by_type(f"{S3}bucketV2:BucketV2")


@pytest.mark.parametrize("preview", [False, True])
def test_every_bucket_is_versioned_private_and_owner_enforced(preview: bool) -> None:
    plan = _storage(preview)
    for role in ROLES:
        versioning = plan.get(f"st-{role}-versioning")
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        public = plan.get(f"st-{role}-public-access")
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        ):
            assert public.inputs[flag] is True, (role, flag)
        ownership = plan.get(f"st-{role}-ownership")
        assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"


@pytest.mark.parametrize("preview", [False, True])
def test_data_buckets_use_sse_kms_with_the_data_key(preview: bool) -> None:
    plan = _storage(preview)
    for role in DATA_ROLES:
        (rule,) = plan.get(f"st-{role}-encryption").inputs["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        assert default["sseAlgorithm"] == "aws:kms"
        assert default["kmsMasterKeyId"] == KEY_ARN
        assert rule["bucketKeyEnabled"] is True


@pytest.mark.parametrize("preview", [False, True])
def test_logs_bucket_uses_sse_s3_and_does_not_log_itself(preview: bool) -> None:
    plan = _storage(preview)
    (rule,) = plan.get("st-logs-encryption").inputs["rules"]
    # S3 server access logging cannot deliver to an SSE-KMS bucket.
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    loggings = plan.by_type(f"{S3}bucketLogging:BucketLogging")
    assert sorted(r.name for r in loggings) == sorted(f"st-{role}-logging" for role in DATA_ROLES)
    logs_bucket = plan.get("st-logs")
    for logging in loggings:
        role = logging.name.removeprefix("st-").removesuffix("-logging")
        assert logging.inputs["targetPrefix"] == access_log_prefix(role)
        assert logs_bucket.urn in logging.property_dependencies["targetBucket"]
        assert plan.get(f"st-{role}").urn in logging.property_dependencies["bucket"]
        # Delivery is granted by the logs bucket policy: logging waits for it.
        assert plan.get("st-logs-policy").urn in logging.dependencies
        if not preview:
            assert logging.inputs["targetBucket"] == _name("logs")
            assert logging.inputs["bucket"] == _name(role)


@pytest.mark.parametrize("preview", [False, True])
def test_bucket_policies_in_the_graph(preview: bool) -> None:
    plan = _storage(preview)
    for role in ROLES:
        policy = json.loads(plan.get(f"st-{role}-policy").inputs["policy"])
        arn = bucket_arn(_name(role), REGION)
        assert _is_denied(policy, "s3:ListBucket", {"aws:SecureTransport": "false"})
        assert _is_denied(policy, "s3:GetObject", {**SECURE, "s3:TlsVersion": "1.0"})
        sids = _by_sid(policy)
        assert sids["DenyInsecureTransport"]["Resource"] == [arn, f"{arn}/*"]
        encrypted = role != "logs"
        assert (
            _is_denied(
                policy, "s3:PutObject", {**SECURE, "s3:x-amz-server-side-encryption": "AES256"}
            )
            is encrypted
        )
        assert ("AllowS3ServerAccessLogDelivery" in sids) is (role == "logs")
    grant = _by_sid(json.loads(plan.get("st-logs-policy").inputs["policy"]))[
        "AllowS3ServerAccessLogDelivery"
    ]
    assert grant["Condition"]["ArnLike"]["aws:SourceArn"] == sorted(
        bucket_arn(_name(role), REGION) for role in DATA_ROLES
    )
    assert grant["Resource"] == sorted(
        f"{bucket_arn(_name('logs'), REGION)}/{access_log_prefix(role)}*" for role in DATA_ROLES
    )


@pytest.mark.parametrize("preview", [False, True])
def test_policy_waits_for_ownership_and_public_access_block(preview: bool) -> None:
    plan = _storage(preview)
    for role in ROLES:
        policy = plan.get(f"st-{role}-policy")
        assert plan.get(f"st-{role}-ownership").urn in policy.dependencies
        assert plan.get(f"st-{role}-public-access").urn in policy.dependencies


@pytest.mark.parametrize("preview", [False, True])
def test_companions_depend_on_their_bucket(preview: bool) -> None:
    plan = _storage(preview, object_lock=True)
    component = plan.get("st")
    for resource in plan.resources:
        if not resource.type.startswith(S3):
            continue
        assert resource.parent == component.urn, resource.name
        if resource.type == f"{S3}bucket:Bucket":
            continue
        owner = resource.name.removeprefix("st-").split("-")[0]
        bucket = plan.get(f"st-{owner}")
        assert bucket.urn in resource.property_dependencies["bucket"], resource.name
        if preview:
            assert resource.inputs.get("bucket", UNKNOWN) == UNKNOWN
        else:
            assert resource.inputs["bucket"] == _name(owner)


@pytest.mark.parametrize("preview", [False, True])
def test_kms_key_output_feeds_encryption_and_policy(preview: bool) -> None:
    import pulumi_aws as aws

    def program() -> None:
        key = aws.kms.Key("key", enable_key_rotation=True)
        Storage("st", _args(kms_key_arn=key.arn))

    plan = _run(program, preview=preview)
    key = plan.get("key")
    for role in DATA_ROLES:
        assert key.urn in plan.get(f"st-{role}-encryption").property_dependencies["rules"]
        policy = plan.get(f"st-{role}-policy")
        assert key.urn in policy.property_dependencies["policy"]
        if not preview:
            statement = _by_sid(json.loads(policy.inputs["policy"]))["DenyOtherKmsKey"]
            key_ids = statement["Condition"]["StringNotEquals"]
            assert key_ids["s3:x-amz-server-side-encryption-aws-kms-key-id"] == key.outputs["arn"]
    # The logs bucket's policy needs no key: it stays known at preview.
    assert json.loads(plan.get("st-logs-policy").inputs["policy"])["Statement"]


@pytest.mark.parametrize("preview", [False, True])
def test_lifecycle_rules_follow_args(preview: bool) -> None:
    plan = _storage(
        preview,
        noncurrent_version_days=30,
        abort_incomplete_upload_days=3,
        capture_transition_days=45,
        capture_expiration_days=200,
        access_log_expiration_days=400,
    )
    for role in ROLES:
        rule = _rule(plan, role)
        assert rule["status"] == "Enabled"
        assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 30
        assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 3
        lifecycle = plan.get(f"st-{role}-lifecycle")
        # Noncurrent-version rules need versioning first.
        assert plan.get(f"st-{role}-versioning").urn in lifecycle.dependencies
    capture = _rule(plan, "capture")
    assert capture["transitions"] == [{"days": 45, "storageClass": "STANDARD_IA"}]
    assert capture["expiration"] == {"days": 200}
    assert _rule(plan, "logs")["expiration"] == {"days": 400}
    assert "transitions" not in _rule(plan, "logs")
    for role in ("datasets", "models"):
        assert _rule(plan, role)["expiration"] == {"expiredObjectDeleteMarker": True}
        assert "transitions" not in _rule(plan, role)


@pytest.mark.parametrize("preview", [False, True])
def test_capture_transition_zero_skips_it(preview: bool) -> None:
    plan = _storage(preview, capture_transition_days=0, capture_expiration_days=10)
    capture = _rule(plan, "capture")
    assert "transitions" not in capture
    assert capture["expiration"] == {"days": 10}


def test_capture_transition_must_precede_expiration() -> None:
    with pytest.raises(ProgramError, match="expire"):
        _storage(capture_transition_days=60, capture_expiration_days=60)


@pytest.mark.parametrize("preview", [False, True])
def test_object_lock_off_by_default(preview: bool) -> None:
    plan = _storage(preview)
    assert not plan.by_type(f"{S3}bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    for role in ROLES:
        assert "objectLockEnabled" not in plan.get(f"st-{role}").inputs


@pytest.mark.parametrize("preview", [False, True])
def test_object_lock_on_models_only(preview: bool) -> None:
    plan = _storage(preview, object_lock=True, object_lock_days=30)
    assert plan.get("st-models").inputs["objectLockEnabled"] is True
    for role in ("datasets", "capture", "logs"):
        assert "objectLockEnabled" not in plan.get(f"st-{role}").inputs
    (lock,) = plan.by_type(f"{S3}bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.name == "st-models-object-lock"
    assert lock.inputs["objectLockEnabled"] == "Enabled"
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 30}
    assert plan.get("st-models-versioning").urn in lock.dependencies


def test_object_lock_days_validated() -> None:
    with pytest.raises(ValueError, match="object_lock_days"):
        _args(object_lock=True, object_lock_days=0)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    yield spy_registered_outputs(monkeypatch, Storage)


@pytest.mark.parametrize("preview", [False, True])
def test_registered_outputs(preview: bool, registered: dict[str, Any]) -> None:
    attributes: list[str] = []

    def program() -> None:
        storage = Storage("st", _args())
        attributes.extend(
            n for n, v in vars(storage).items()
            if isinstance(v, pulumi.Output) and not n.startswith("_") and n != "urn"
        )  # fmt: skip
        for attr in attributes:
            pulumi.export(attr, getattr(storage, attr))

    plan = _run(program, preview=preview)
    expected = {f"{role}_bucket" for role in ROLES} | {f"{role}_bucket_arn" for role in ROLES}
    assert set(registered) == set(attributes) == expected
    for role in ROLES:
        assert plan.outputs[f"{role}_bucket"] == _name(role)
        arn = plan.outputs[f"{role}_bucket_arn"]
        assert arn == (UNKNOWN if preview else bucket_arn(_name(role), REGION))
