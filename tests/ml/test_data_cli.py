"""`mlops data validate` (offline) and the exit codes of bad input that needs no stack;
the source commit recorded in manifests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ml.cli.main import app
from ml.data import CHURN_SCHEMA
from ml.data.provenance import git_commit

FIXTURES = Path(__file__).parent / "fixtures" / "data"
SCHEMA = str(FIXTURES / "customers.yaml")
GOOD = str(FIXTURES / "customers.csv")

runner = CliRunner()


def mlops(*args: str) -> Any:
    return runner.invoke(app, ["data", *args])


def test_validate_good_file_exits_0() -> None:
    result = mlops("validate", GOOD, "--schema", SCHEMA)
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout and "(6 rows, 7 columns)" in result.stdout


def test_validate_bad_file_exits_1_with_a_table(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    lines = (FIXTURES / "customers.csv").read_text().splitlines()
    bad.write_text("\n".join([*lines, "c-007,12,1,gold,true,2021-07-07,0", lines[1]]) + "\n")
    result = mlops("validate", str(bad), "--schema", SCHEMA)
    assert result.exit_code == 1
    for word in ("out_of_range", "unknown_category", "duplicates", "row 6: 12", "'gold'"):
        assert word in result.stdout, word
    assert "does not satisfy" in result.stderr


def test_validate_json_report(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = mlops("validate", str(empty), "--schema", SCHEMA, "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["issues"][0]["kind"] == "empty_file"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "absent.csv", "--schema", SCHEMA], "data file absent.csv does not exist"),
        (["validate", GOOD, "--schema", "absent.yaml"], "bad schema absent.yaml"),
        (["validate", "data.xlsx", "--schema", SCHEMA], "unsupported data format '.xlsx'"),
        (
            ["push", GOOD, "--dataset", "customers", "--schema", "absent.yaml", "--stack", "x"],
            "bad schema absent.yaml",
        ),
    ],
    ids=["missing-file", "missing-schema", "unknown-format", "push-bad-schema"],
)
def test_bad_input_exits_2(args: list[str], message: str) -> None:
    result = mlops(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_bad_schema_field_is_named(tmp_path: Path) -> None:
    schema = tmp_path / "bad.yaml"
    schema.write_text("columns:\n  age: {type: int, min: 10, max: 1}\n")
    result = mlops("validate", GOOD, "--schema", str(schema))
    assert result.exit_code == 2
    assert f"{schema}: columns.age: min (10) is greater than max (1)" in result.stderr


def test_git_commit_from_ci_then_git_then_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "f" * 40)
    assert git_commit(tmp_path) == "f" * 40
    monkeypatch.delenv("GITHUB_SHA")
    assert git_commit(tmp_path) == "unknown"  # not a repository
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "first"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    assert git_commit(tmp_path) == head.stdout.strip()


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_reference_dataset_is_written_and_valid(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"churn.{suffix}"
    written = mlops("reference", str(target), "--rows", "150", "--seed", "3", "--drift", "0.5")
    assert written.exit_code == 0, written.output
    checked = mlops("validate", str(target), "--schema", str(CHURN_SCHEMA))
    assert checked.exit_code == 0, checked.output
    assert "(150 rows, 12 columns)" in checked.stdout


def test_reference_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = mlops("reference", str(tmp_path / "churn.txt"))
    assert result.exit_code == 2 and "unsupported data format '.txt'" in result.stderr
