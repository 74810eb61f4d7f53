"""Pushing, listing and getting dataset versions against moto's server over HTTP: byte-identical
round trips, versions, idempotency, manifests, SSE-KMS, and bad data that never reaches S3."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from infra.outputs import StackOutputs
from infra.sandbox.emulator import Emulator
from ml.cli.main import app
from ml.data import (
    CHURN_SCHEMA,
    DatasetNotFound,
    DataStoreError,
    IntegrityError,
    IssueKind,
    SchemaMismatch,
    ValidationFailed,
    VersionNotFound,
    get,
    list_versions,
    load_frame,
    load_schema,
    make_churn,
    push,
    read_validated,
)
from ml.stack import StackHandle
from tests.integration.conftest import emulator  # noqa: F401  (the session's moto server)

pytestmark = pytest.mark.emulator

FIXTURES = Path(__file__).parent / "fixtures" / "data"
SCHEMA_FILE = FIXTURES / "customers.yaml"
SCHEMA = load_schema(SCHEMA_FILE)
GOOD_CSV = (FIXTURES / "customers.csv").read_text()
HEADER, *ROWS = GOOD_CSV.splitlines()
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def outputs_for(bucket: str, key_arn: str) -> StackOutputs:
    """A stack's outputs with real values where ml.data reads them, placeholders elsewhere."""
    placeholders: dict[str, Any] = {}
    for name, field in StackOutputs.model_fields.items():
        kind = field.annotation
        placeholders[name] = {bool: False, int: 0, float: 0.0, list[str]: []}.get(kind, "unused")
    placeholders.update(
        stack="datatest",
        environment="local",
        region="us-east-1",
        account_id="123456789012",
        datasets_bucket=bucket,
        data_kms_key_arn=key_arn,
    )
    return StackOutputs(**placeholders)


def new_stack(emulator: Emulator) -> StackHandle:  # noqa: F811
    """A fresh versioned bucket and KMS key, so tests need no emulator reset."""
    bucket = f"datasets-{uuid.uuid4().hex[:12]}"
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key_arn = emulator.client("kms").create_key(Description="datasets")["KeyMetadata"]["Arn"]
    return StackHandle(outputs_for(bucket, key_arn), endpoint_url=emulator.url)


@pytest.fixture
def stack(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> StackHandle:  # noqa: F811
    """A stack of its own for each test, with a known source commit."""
    monkeypatch.setenv("GITHUB_SHA", COMMIT)
    return new_stack(emulator)


@pytest.fixture(scope="module")
def empty_stack(emulator: Emulator) -> StackHandle:  # noqa: F811
    """One stack shared by the tests that must leave it empty (each checks it still is)."""
    return new_stack(emulator)


def stored(handle: StackHandle) -> list[tuple[str, str]]:
    """Every object version and delete marker in the bucket, as (key, version id)."""
    listing = handle.client("s3").list_object_versions(Bucket=handle.outputs.datasets_bucket)
    entries = listing.get("Versions", []) + listing.get("DeleteMarkers", [])
    return sorted((entry["Key"], entry["VersionId"]) for entry in entries)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def good_file(tmp_path: Path, fmt: str, rows: int = 6) -> Path:
    text = "\n".join([HEADER, *ROWS[:rows]]) + "\n"
    if fmt == "csv":
        return write(tmp_path, f"customers-{rows}.csv", text)
    path = tmp_path / f"customers-{rows}.parquet"
    read_validated(write(tmp_path, "source.csv", text), SCHEMA).to_parquet(path)
    return path


# --- round trips and versions ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_push_then_get_by_version_is_byte_identical(
    stack: StackHandle, tmp_path: Path, fmt: str
) -> None:
    source = good_file(tmp_path, fmt)
    version = push(stack, source, "customers", SCHEMA_FILE)
    assert version.key == f"datasets/customers/data.{fmt}" and version.format == fmt
    (tmp_path / "out").mkdir()
    into_dir = get(stack, version.ref, tmp_path / "out")
    assert into_dir == tmp_path / "out" / f"customers-{version.version}.{fmt}"
    assert into_dir.read_bytes() == source.read_bytes()
    into_file = get(stack, version.ref, tmp_path / "copy.bin")
    assert into_file == tmp_path / "copy.bin" and into_file.read_bytes() == source.read_bytes()


def test_changed_data_is_a_new_version_and_the_old_stays_readable(
    stack: StackHandle, tmp_path: Path
) -> None:
    first_file, second_file = good_file(tmp_path, "csv", 4), good_file(tmp_path, "csv", 6)
    first = push(stack, first_file, "customers", SCHEMA)
    second = push(stack, second_file, "customers", SCHEMA)
    assert second.version != first.version and (first.rows, second.rows) == (4, 6)
    assert [v.version for v in list_versions(stack, "customers")] == [first.version, second.version]
    (tmp_path / "old").mkdir()
    assert get(stack, first.ref, tmp_path / "old").read_bytes() == first_file.read_bytes()
    latest = get(stack, "customers@latest", tmp_path / "latest.csv")
    assert latest.read_bytes() == second_file.read_bytes()


def test_identical_push_is_idempotent(stack: StackHandle, tmp_path: Path) -> None:
    source = good_file(tmp_path, "csv")
    first = push(stack, source, "customers", SCHEMA)
    before = stored(stack)
    again = push(stack, source, "customers", SCHEMA)
    assert again == first
    assert stored(stack) == before and len(before) == 2  # one data version, one manifest


def test_manifest_records_what_was_pushed(stack: StackHandle, tmp_path: Path) -> None:
    source = good_file(tmp_path, "csv")
    version = push(stack, source, "customers", SCHEMA_FILE)
    body = (
        stack.client("s3")
        .get_object(
            Bucket=stack.outputs.datasets_bucket, Key=f"manifests/customers/{version.version}.json"
        )["Body"]
        .read()
    )
    manifest = json.loads(body)
    assert manifest["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert manifest["rows"] == 6 and manifest["columns"] == list(SCHEMA.columns)
    assert manifest["schema_sha256"] == SCHEMA.sha256
    assert manifest["schema"] == SCHEMA.to_dict()
    assert manifest["git_commit"] == COMMIT
    assert manifest["version"] == version.version and manifest["dataset"] == "customers"
    assert manifest["format"] == "csv" and manifest["size_bytes"] == source.stat().st_size
    assert manifest["created"].endswith("Z") and manifest["source_file"] == source.name


def test_every_object_is_encrypted_with_the_stack_key(stack: StackHandle, tmp_path: Path) -> None:
    version = push(stack, good_file(tmp_path, "parquet"), "customers", SCHEMA)
    s3 = stack.client("s3")
    bucket = stack.outputs.datasets_bucket
    data = s3.head_object(Bucket=bucket, Key=version.key, VersionId=version.version)
    manifest = s3.head_object(Bucket=bucket, Key=version.manifest_key)
    for head in (data, manifest):
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == stack.outputs.data_kms_key_arn
    assert data["Metadata"]["sha256"] == version.sha256


def test_load_frame_is_typed_by_the_pushed_schema(stack: StackHandle, tmp_path: Path) -> None:
    push(stack, good_file(tmp_path, "csv"), "customers", SCHEMA)
    frame = load_frame(stack, "customers@latest")
    assert len(frame) == 6 and list(frame.columns) == list(SCHEMA.columns)
    assert frame["age"].dtype == "int64" and frame["active"].dtype == bool


def test_reference_dataset_round_trips_into_the_training_frame(
    stack: StackHandle, tmp_path: Path
) -> None:
    frame = make_churn(200, seed=5)
    source = tmp_path / "churn.csv"
    frame.to_csv(source, index=False)
    version = push(stack, source, "churn", CHURN_SCHEMA)
    assert version.rows == 200 and version.schema_sha256 == load_schema(CHURN_SCHEMA).sha256
    loaded = load_frame(stack, "churn@latest")
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)
    assert {str(loaded[name].dtype) for name in ("tenure_months", "churned")} == {"int64"}
    assert str(loaded["monthly_charges"].dtype) == "float64"


def test_list_versions_of_every_dataset(stack: StackHandle, tmp_path: Path) -> None:
    assert list_versions(stack) == []
    push(stack, good_file(tmp_path, "csv"), "customers", SCHEMA)
    push(
        stack,
        good_file(tmp_path, "parquet"),
        "customers-eval",
        SCHEMA.model_copy(update={"dataset": None}),
    )
    assert [v.dataset for v in list_versions(stack)] == ["customers", "customers-eval"]


# --- errors ---------------------------------------------------------------------------------


def test_unknown_dataset_or_version_lists_the_known_ones(
    stack: StackHandle, tmp_path: Path
) -> None:
    version = push(stack, good_file(tmp_path, "csv"), "customers", SCHEMA)
    with pytest.raises(VersionNotFound) as caught:
        get(stack, "customers@no-such-version", tmp_path)
    assert version.version in str(caught.value) and "customers@latest" in str(caught.value)
    with pytest.raises(
        DatasetNotFound, match="unknown dataset 'orders'.*known datasets: customers"
    ):
        get(stack, "orders@latest", tmp_path)
    with pytest.raises(DatasetNotFound):
        list_versions(stack, "orders")


def test_checksum_mismatch_on_download_leaves_nothing(stack: StackHandle, tmp_path: Path) -> None:
    version = push(stack, good_file(tmp_path, "csv"), "customers", SCHEMA)
    forged = version.model_copy(update={"sha256": "0" * 64})
    stack.client("s3").put_object(
        Bucket=stack.outputs.datasets_bucket, Key=version.manifest_key, Body=forged.to_json()
    )
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError, match="its manifest records 0000"):
        get(stack, version.ref, out)
    assert list(out.iterdir()) == []


def test_unversioned_bucket_is_refused_before_upload(
    emulator: Emulator,  # noqa: F811
    tmp_path: Path,
) -> None:
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    emulator.client("s3").create_bucket(Bucket=bucket)
    handle = StackHandle(outputs_for(bucket, "arn:aws:kms:us-east-1:1:key/k"), emulator.url)
    with pytest.raises(DataStoreError, match=f"bucket {bucket} is not versioned"):
        push(handle, good_file(tmp_path, "csv"), "customers", SCHEMA)
    assert stored(handle) == []


def test_failed_manifest_write_takes_the_data_version_back(
    stack: StackHandle, tmp_path: Path
) -> None:
    def deny_manifests(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("manifests/"):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    stack.client("s3").meta.events.register("provide-client-params.s3.PutObject", deny_manifests)
    with pytest.raises(DataStoreError, match="writing the manifest to .* was denied"):
        push(stack, good_file(tmp_path, "csv"), "customers", SCHEMA)
    assert stored(stack) == []


def test_missing_bucket_names_it(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    handle = StackHandle(outputs_for("no-such-bucket-here", "arn:k"), emulator.url)
    with pytest.raises(DataStoreError, match="no-such-bucket-here .* does not exist"):
        push(handle, good_file(tmp_path, "csv"), "customers", SCHEMA)


def test_schema_for_another_dataset_is_refused(stack: StackHandle, tmp_path: Path) -> None:
    with pytest.raises(SchemaMismatch, match="is for dataset 'customers', not 'orders'"):
        push(stack, good_file(tmp_path, "csv"), "orders", SCHEMA)
    assert stored(stack) == []


# --- bad data never reaches the bucket ------------------------------------------------------


def _rows(*extra: str, header: str = HEADER) -> str:
    return "\n".join([header, *ROWS[:3], *extra]) + "\n"


def _latin1(tmp_path: Path) -> Path:
    path = tmp_path / "bad.csv"
    path.write_bytes(_rows().replace("basic", "b\u00e9sic", 1).encode("latin-1"))
    return path


def _cut_parquet(tmp_path: Path) -> Path:
    whole = good_file(tmp_path, "parquet")
    path = tmp_path / "bad.parquet"
    path.write_bytes(whole.read_bytes()[:-100])
    return path


def _csv(text: str) -> Callable[[Path], Path]:
    return lambda tmp_path: write(tmp_path, "bad.csv", text)


BAD_DATA = [
    pytest.param(_csv(""), IssueKind.EMPTY_FILE, "the file is empty", id="empty-file"),
    pytest.param(
        _csv(_rows("c-004,45,980.25,prem")[:-1]),
        IssueKind.TRUNCATED_FILE,
        "last row (line 5) has 4 of 7 fields",
        id="truncated-csv",
    ),
    pytest.param(
        _cut_parquet, IssueKind.TRUNCATED_FILE, "not a readable Parquet file", id="corrupt-parquet"
    ),
    pytest.param(_latin1, IssueKind.ENCODING, "is not UTF-8: byte 0xE9", id="not-utf8"),
    pytest.param(
        _csv(_rows("c-004,45,1,basic,true,2021-07-07,0,9")),
        IssueKind.MALFORMED_ROWS,
        "do not have the header's 7 fields",
        id="ragged-row",
    ),
    pytest.param(
        _csv("\n".join(",".join(line.split(",")[:-1]) for line in GOOD_CSV.splitlines())),
        IssueKind.MISSING_COLUMN,
        "column 'churned' is declared in the schema but missing",
        id="missing-column",
    ),
    pytest.param(
        _csv("\n".join([HEADER + ",notes", *(row + ",x" for row in ROWS)]) + "\n"),
        IssueKind.EXTRA_COLUMN,
        "column 'notes' is not declared in the schema",
        id="extra-column",
    ),
    pytest.param(
        _csv(_rows("c-004,forty,1,basic,true,2021-07-07,0")),
        IssueKind.WRONG_TYPE,
        "column 'age' cannot be read as int",
        id="wrong-type",
    ),
    pytest.param(
        _csv(_rows("c-004,45,1,basic,,2021-07-07,0")),
        IssueKind.NULLS,
        "missing value(s) in column 'active', which is not nullable",
        id="nulls",
    ),
    pytest.param(
        _csv(_rows("c-004,150,1,basic,true,2021-07-07,0")),
        IssueKind.OUT_OF_RANGE,
        "column 'age' are above the maximum 120",
        id="out-of-range",
    ),
    pytest.param(
        _csv(_rows("c-004,45,1,gold,true,2021-07-07,0")),
        IssueKind.UNKNOWN_CATEGORY,
        "column 'plan' are not among the allowed values basic, premium",
        id="unknown-category",
    ),
    pytest.param(
        _csv(_rows("c-002,45,1,basic,true,2021-07-07,0")),
        IssueKind.DUPLICATES,
        "repeat a value of column 'customer_id'",
        id="duplicates",
    ),
    pytest.param(
        _csv(_rows()[: -len(ROWS[2]) - 1]),
        IssueKind.ROW_COUNT,
        "the data has 2 rows; the schema requires at least 3",
        id="too-few-rows",
    ),
]


@pytest.mark.parametrize(("make", "kind", "message"), BAD_DATA)
def test_bad_data_is_rejected_and_nothing_uploaded(
    empty_stack: StackHandle,
    tmp_path: Path,
    make: Callable[[Path], Path],
    kind: IssueKind,
    message: str,
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        push(empty_stack, make(tmp_path), "customers", SCHEMA)
    report = caught.value.report
    assert report.kinds == {kind}, [issue.message for issue in report.issues]
    assert any(message in issue.message for issue in report.issues), report.issues
    assert stored(empty_stack) == []


# --- CLI ------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_stack(stack: StackHandle, monkeypatch: pytest.MonkeyPatch) -> StackHandle:
    """`--stack datatest` opens the test's stack."""
    monkeypatch.setattr("ml.stack.open_stack", lambda name, root=None: stack)
    return stack


def mlops(*args: str) -> Any:
    return runner.invoke(app, ["data", *args])


def test_cli_push_list_get(cli_stack: StackHandle, tmp_path: Path) -> None:
    source = good_file(tmp_path, "csv")
    pushed = mlops(
        "push",
        str(source),
        "--dataset",
        "customers",
        "--schema",
        str(SCHEMA_FILE),
        "--stack",
        "datatest",
        "--json",
    )
    assert pushed.exit_code == 0, pushed.output
    version = json.loads(pushed.stdout)["version"]
    listed = mlops("list", "--stack", "datatest", "--json")
    assert listed.exit_code == 0 and [v["version"] for v in json.loads(listed.stdout)] == [version]
    table = mlops("list", "--stack", "datatest", "--dataset", "customers")
    # (the terminal may be 80 columns wide under xdist, so long cells can be cut: the JSON
    # above carries the content; here, that the table renders)
    assert table.exit_code == 0 and "version" in table.stdout and "csv" in table.stdout
    out = tmp_path / "got.csv"
    got = mlops("get", f"customers@{version}", "--stack", "datatest", "--output", str(out))
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == source.read_bytes() and str(out) in got.stdout


def test_cli_rejects_bad_data_with_exit_1(cli_stack: StackHandle, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.csv", _rows("c-004,150,1,gold,true,2021-07-07,0"))
    result = mlops(
        "push",
        str(bad),
        "--dataset",
        "customers",
        "--schema",
        str(SCHEMA_FILE),
        "--stack",
        "datatest",
    )
    assert result.exit_code == 1
    assert "out_of_range" in result.stderr and "unknown_category" in result.stderr
    assert "nothing was uploaded" in result.stderr
    assert stored(cli_stack) == []


def test_cli_bad_input_exits_2(cli_stack: StackHandle, tmp_path: Path) -> None:
    version = push(cli_stack, good_file(tmp_path, "csv"), "customers", SCHEMA)
    unknown = mlops("get", "customers@nope", "--stack", "datatest")
    assert unknown.exit_code == 2 and version.version in unknown.stderr
    no_dataset = mlops("list", "--stack", "datatest", "--dataset", "orders")
    assert no_dataset.exit_code == 2 and "known datasets: customers" in no_dataset.stderr
    bad_ref = mlops("get", "customers", "--stack", "datatest")
    assert bad_ref.exit_code == 2 and "NAME@VERSION" in bad_ref.stderr
    missing = mlops(
        "push",
        str(tmp_path / "absent.csv"),
        "--dataset",
        "customers",
        "--schema",
        str(SCHEMA_FILE),
        "--stack",
        "datatest",
    )
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    assert [key for key, _ in stored(cli_stack)] == [version.key, version.manifest_key]


def test_cli_unknown_stack_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ml.stack import StackNotDeployed

    def not_deployed(name: str, root: Path | None = None) -> StackHandle:
        raise StackNotDeployed(f"stack {name!r} has no sandbox deployment")

    monkeypatch.setattr("ml.stack.open_stack", not_deployed)
    result = mlops("list", "--stack", "ghost")
    assert result.exit_code == 2 and "stack 'ghost' has no sandbox deployment" in result.stderr
