"""A dataset's declared schema, read from a YAML (or JSON) file.

    dataset: churn                 # optional: the dataset this schema is for
    strict: true                   # extra columns are an error ("filter": dropped)
    rows: {min: 100, max: 5000000}
    unique: [customer_id]          # this combination of columns identifies a row
    columns:
      tenure_months: {type: int, min: 0, max: 120}
      plan: {type: category, allowed: [basic, standard, premium]}
      churned: {type: int, allowed: [0, 1], role: label}

Column types: int, float, string, bool, category (strings from `allowed`), datetime.
Columns are not nullable unless they say `nullable: true` (missing values are a defect
until someone decides otherwise). `ml.data.checks` turns the schema into a pandera
``DataFrameSchema``; nothing here checks data.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from ml.data.errors import InvalidDatasetName, SchemaFileError

ColumnType = Literal["int", "float", "string", "bool", "category", "datetime"]
Role = Literal["feature", "label", "id", "other"]
AllowedValue = StrictBool | StrictInt | StrictFloat | StrictStr

NUMERIC_TYPES = frozenset({"int", "float"})
DATASET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
DATASET_NAME_RULE = (
    "use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit"
)


class ColumnSpec(BaseModel):
    """One column: its type and the constraints its values must meet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ColumnType
    description: str = ""
    role: Role = Field("feature", description="feature, label, id or other.")
    nullable: bool = False
    unique: bool = False
    min: float | None = Field(None, description="Smallest allowed value (int and float).")
    max: float | None = Field(None, description="Largest allowed value (int and float).")
    allowed: list[AllowedValue] | None = Field(None, description="The only values allowed.")

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if (self.min is not None or self.max is not None) and self.type not in NUMERIC_TYPES:
            raise ValueError(f"min/max apply to int and float columns, not to {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        if self.type == "category" and not self.allowed:
            raise ValueError("a category column must list its values in `allowed`")
        if self.allowed is not None:
            if not self.allowed:
                raise ValueError("`allowed` must list at least one value")
            self._check_allowed_types(self.allowed)
        return self

    def _check_allowed_types(self, allowed: list[AllowedValue]) -> None:
        wanted: dict[str, tuple[type, ...]] = {
            "category": (str,),
            "string": (str,),
            "int": (int,),
            "float": (int, float),
            "bool": (bool,),
        }
        if self.type == "datetime":
            raise ValueError("`allowed` does not apply to datetime columns")
        for value in allowed:
            # bool is an int subclass: `allowed: [yes, no]` in YAML is two bools, not strings
            is_bool = isinstance(value, bool)
            if not isinstance(value, wanted[self.type]) or (is_bool and self.type != "bool"):
                hint = " (quote it: YAML reads yes/no/on/off as booleans)" if is_bool else ""
                raise ValueError(f"allowed value {value!r} is not a {self.type} value{hint}")


class RowBounds(BaseModel):
    """How many data rows a file may have."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: NonNegativeInt = 1
    max: PositiveInt | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RowBounds:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class DatasetSchema(BaseModel):
    """A dataset's declared schema (see the module docstring for the file format)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str | None = Field(None, description="The dataset this schema is for.")
    description: str = ""
    strict: bool | Literal["filter"] = Field(
        True, description="true: extra columns fail; filter: they are dropped; false: kept."
    )
    rows: RowBounds = RowBounds()
    unique: list[str] = Field(
        default_factory=list, description="Columns whose combination must be unique."
    )
    columns: dict[str, ColumnSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> DatasetSchema:
        if self.dataset is not None and not DATASET_NAME.match(self.dataset):
            raise ValueError(f"dataset {self.dataset!r} is not a valid name: {DATASET_NAME_RULE}")
        unknown = [name for name in self.unique if name not in self.columns]
        if unknown:
            raise ValueError(f"unique names undeclared column(s) {unknown}")
        labels = [name for name, column in self.columns.items() if column.role == "label"]
        if len(labels) > 1:
            raise ValueError(f"at most one column may have role: label, found {labels}")
        return self

    @property
    def sha256(self) -> str:
        """Hash of the schema's meaning: comments and formatting of the file do not count."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def label(self) -> str | None:
        return next((n for n, c in self.columns.items() if c.role == "label"), None)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(n for n, c in self.columns.items() if c.role == "feature")

    def feature_kinds(self) -> dict[str, str]:
        """Features as ``ml.drift`` wants them: numeric or categorical."""
        return {
            name: "numeric" if self.columns[name].type in NUMERIC_TYPES else "categorical"
            for name in self.features
        }

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def load_schema(path: str | Path) -> DatasetSchema:
    """Read and check a schema file; any problem raises `SchemaFileError` naming the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaFileError(path, None, "the file does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SchemaFileError(path, None, f"cannot read it ({error})") from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(error, "problem", None) or str(error)
        raise SchemaFileError(path, where, f"not valid YAML or JSON ({problem})") from None
    return schema_from_dict(data, path)


def schema_from_dict(data: Any, source: str | Path = "<schema>") -> DatasetSchema:
    """A schema from already-parsed data (a file's contents, or a manifest's copy)."""
    if not isinstance(data, dict):
        raise SchemaFileError(
            source, None, f"expected a mapping with a `columns` key, got {type(data).__name__}"
        )
    try:
        return DatasetSchema.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        problem = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            problem = f"unknown field (allowed here: {_allowed_fields(first['loc'])})"
        elif "input" in first and first["type"] != "missing":
            problem = f"{problem} (got {first['input']!r})"
        more = len(error.errors()) - 1
        if more:
            problem += f"; and {more} more problem{'s' if more > 1 else ''}"
        raise SchemaFileError(source, field, problem) from None


def _allowed_fields(loc: tuple[int | str, ...]) -> str:
    """The field names valid at the location of an unknown one."""
    parents = loc[:-1]
    model: type[BaseModel] = DatasetSchema
    if parents[:1] == ("columns",):
        model = ColumnSpec
    elif parents[:1] == ("rows",):
        model = RowBounds
    return ", ".join(model.model_fields)


def check_dataset_name(name: str) -> str:
    """The name, if it can key a dataset; else `InvalidDatasetName` with the rule."""
    if not DATASET_NAME.match(name):
        raise InvalidDatasetName(name, DATASET_NAME_RULE)
    return name
