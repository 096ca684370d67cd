"""Configuration: pydantic models (frozen, ``extra="forbid"``), TOML loading and error paths.

The whole config is validated before any data is read; every problem names its key, e.g.
``plan.components[0].levels: ...``. Component models live beside their kernels in :mod:`mlmroi.plans`.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlmroi.disclosure import DEFAULT_BRACKETS, check_brackets
from mlmroi.errors import ConfigError, InputError
from mlmroi.io.csv import CsvOptions
from mlmroi.io.database import DbSource, redact
from mlmroi.io.dataset import TableName
from mlmroi.io.load import LoadOptions, Orphans
from mlmroi.money import MAX_AMOUNT
from mlmroi.plans.base import ComponentModel, MoneySetting
from mlmroi.plans.caps import CapsConfig
from mlmroi.plans.matching import MatchingConfig
from mlmroi.plans.registry import KINDS, kind_of
from mlmroi.segments.config import SegmentsConfig

CONFIG_FILE = "mlmroi.toml"
TABLES = ("participants", "orders", "costs", "commissions", "events", "leads")

#: component type -> config model, from the registry (:mod:`mlmroi.plans.registry`)
COMPONENT_MODELS: dict[str, type[ComponentModel]] = {kind.type: kind.model for kind in KINDS}
if TYPE_CHECKING:
    AnyComponent = ComponentModel
else:  # pydantic picks the model by the ``type`` key
    AnyComponent = Annotated[Union[tuple(COMPONENT_MODELS.values())], Field(discriminator="type")]  # noqa: UP007


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class WindowConfig(_Model):
    """The analysis window; ``end`` is the as-of date. Missing bounds are taken from the orders."""

    start: dt.date | None = None
    end: dt.date | None = None
    period: Literal["week", "month", "quarter"] = "month"

    @model_validator(mode="after")
    def _ordered(self) -> WindowConfig:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class InputConfig(_Model):
    """``[input]``: how the CSV files are written (unset keys are detected, docs/data-contract.md), and
    whether order rows outside the window's reach are read at all."""

    separator: Literal[",", ";", "\t", "|"] | None = Field(default=None, description="default: detected")
    encoding: Literal["utf-8", "utf-16", "latin-1", "cp1252"] | None = Field(
        default=None, description="default: UTF-8, or UTF-16 when the file starts with its byte-order mark"
    )
    decimal: Literal[".", ","] | None = Field(
        default=None,
        description="decimal mark of amounts; default: ',' only in a non-comma file whose column has no '.'",
    )
    date_format: str | None = Field(
        default=None, description="strftime format of dates, e.g. '%d.%m.%Y'; default: YYYY-MM-DD"
    )
    pushdown: bool = Field(
        default=True,
        description="read only the order rows the window and its lookback need (a database's WHERE, Parquet "
        "row groups by their date statistics); false reads and checks every row (docs/sources.md)",
    )

    @field_validator("date_format")
    @classmethod
    def _has_fields(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "%d" not in value or "%m" not in value or ("%Y" not in value and "%y" not in value):
            raise ValueError(f"date_format {value!r} needs %d, %m and %Y (or %y)")
        return value


class SourceConfig(_Model):
    """``[source]``: read the tables from a database instead of the dataset folder (docs/sources.md)."""

    uri: str = Field(description="postgresql://user@host:port/db or mysql://user@host:port/db")
    password_env: str | None = Field(
        default=None, description="environment variable holding the password (else the URI's own)"
    )
    tables: dict[TableName, str] = Field(
        default_factory=dict,
        description="per table, a table name or a SELECT query (participants, orders: default their names)",
    )

    @field_validator("uri")
    @classmethod
    def _supported(cls, value: str) -> str:
        from mlmroi.io.database import dialect_of

        try:
            dialect_of(value)
        except InputError as exc:
            raise ValueError(str(exc).removeprefix("source: ")) from None
        return value


class MoneyConfig(_Model):
    """Currency and margin settings."""

    currency: str = "EUR"
    decimals: int = Field(default=2, ge=0, le=4, description="digits of the minor unit (2 = cents)")
    margin_rate: float = Field(default=0.40, ge=0.0, le=1.0, description="margin of orders without cost")


class PlanConfig(_Model):
    """A compensation plan: components run per commission period."""

    components: list[AnyComponent] = Field(default_factory=list)
    customer_volume_to_sponsor: bool = False
    caps: CapsConfig = CapsConfig()

    @field_validator("components", mode="before")
    @classmethod
    def _known_types(cls, value: Any) -> Any:
        if isinstance(value, list):
            for item in value:
                kind = item.get("type") if isinstance(item, dict) else None
                if kind not in COMPONENT_MODELS:
                    known = ", ".join(sorted(COMPONENT_MODELS))
                    raise ValueError(f"unknown component type {kind!r} (available: {known})")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> PlanConfig:
        names = [c.label for c in self.components]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"component names must be unique; give each a `name` (repeated: {dupes})")
        matchable = {c.label for c in self.components if not isinstance(c, MatchingConfig)}
        for c in self.components:
            if isinstance(c, MatchingConfig) and c.on is not None:
                unknown = sorted(set(c.on) - matchable)
                if unknown:
                    raise ValueError(
                        f"{c.label}.on names {unknown}, not a non-matching component of this plan"
                    )
        return self


class CostsConfig(_Model):
    """How cost categories map to acquisition / retention and how shared costs are allocated."""

    categories: dict[Literal["acquisition", "retention"], list[str]] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "acquisition": ["advertising", "signup_bonus", "starter_kit"],
            "retention": ["loyalty", "training", "support", "service", "consultation"],
        }
    )
    allocation: Literal["count", "revenue"] = "count"

    @model_validator(mode="after")
    def _disjoint(self) -> CostsConfig:
        both = set(self.categories.get("acquisition", [])) & set(self.categories.get("retention", []))
        if both:
            raise ValueError(f"categories listed as both acquisition and retention: {sorted(both)}")
        return self

    def kind_of(self) -> dict[str, str]:
        """Category name -> ``acquisition`` or ``retention``."""
        return {cat: kind for kind, cats in self.categories.items() for cat in cats}


class DistributorConfig(_Model):
    """The distributor (income-disclosure) view."""

    retail_markup: float = Field(
        default=0.25, ge=0.0, le=100.0, description="retail profit = retail amount × markup (at most 100)"
    )
    own_purchases_are_expenses: bool = True
    disclosure_brackets: list[Annotated[MoneySetting, Field(ge=0.0, lt=MAX_AMOUNT)]] = Field(
        default_factory=lambda: [float(b) for b in DEFAULT_BRACKETS],
        max_length=50,
        description="income disclosure brackets (docs/disclosure.md): increasing boundaries in currency "
        "units; a bracket is over one boundary up to and including the next",
    )

    @field_validator("disclosure_brackets")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        check_brackets(value)
        return value


class AuditConfig(_Model):
    """The commission audit (when the dataset has a ``commissions`` table of what was actually paid)."""

    tolerance: MoneySetting = Field(
        default=0.01, ge=0.0, lt=MAX_AMOUNT, description="flag |paid − computed| above this, per participant"
    )


class ValueConfig(_Model):
    """``[value]``: customer lifetime value (SPEC §7)."""

    model: Literal["bgnbd", "mbgnbd", "none"] = Field(
        default="bgnbd",
        description="BG/NBD or MBG/NBD (+ Gamma-Gamma) for clv_predicted and p_alive, or none",
    )
    horizon_months: int = Field(default=12, ge=1, le=120, description="clv_predicted looks this far ahead")
    discount_rate: float = Field(default=0.01, ge=0.0, lt=1.0, description="monthly discount rate")
    lifetime_months: float | None = Field(
        default=24.0,
        gt=0.0,
        le=1200.0,
        description="clv_formula's expected lifetime; null = 1 / observed churn",
    )
    holdout_periods: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="last periods of the window kept out of a second fit that checks the predictions",
    )


class Config(_Model):
    """The whole configuration of a run."""

    window: WindowConfig = WindowConfig()
    source: SourceConfig | None = None
    input: InputConfig = InputConfig()
    money: MoneyConfig = MoneyConfig()
    columns: dict[
        Literal["participants", "orders", "costs", "commissions", "events", "leads"], dict[str, str]
    ] = Field(default_factory=dict)
    audit: AuditConfig = AuditConfig()
    plan: PlanConfig = PlanConfig()
    costs: CostsConfig = CostsConfig()
    distributor: DistributorConfig = DistributorConfig()
    segments: SegmentsConfig = SegmentsConfig()
    value: ValueConfig = ValueConfig()

    def load_options(self, orphans: Orphans = "reject", placement: bool | None = None) -> LoadOptions:
        """What reading a dataset needs from this config. The placement tree is built when the plan has a
        binary component, unless ``placement`` says otherwise (simulating several plans on one read)."""
        if placement is None:
            placement = any(kind_of(c).needs_placement for c in self.plan.components)
        return LoadOptions(
            columns={table: dict(mapping) for table, mapping in self.columns.items()},
            decimals=self.money.decimals,
            cost_kinds=self.costs.kind_of(),
            orphans=orphans,
            placement=placement,
            source=None
            if self.source is None
            else DbSource(
                self.source.uri, self.source.password_env, {k: v for k, v in self.source.tables.items()}
            ),
            pushdown=self.input.pushdown,
            csv=CsvOptions(
                separator=self.input.separator,
                encoding=self.input.encoding,
                decimal_comma=None if self.input.decimal is None else self.input.decimal == ",",
                date_format=self.input.date_format,
            ),
        )

    def resolved(self) -> dict[str, Any]:
        """The config as plain JSON-able data (for run.json), with any password in ``source.uri`` redacted."""
        data: dict[str, Any] = json.loads(self.model_dump_json())
        if self.source is not None:
            data["source"]["uri"] = redact(self.source.uri)
        return data


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(previous, int) and part in COMPONENT_MODELS:
            pass  # pydantic's union tag, not a key the user wrote
        else:
            path += f".{part}" if path else str(part)
        previous = part
    return path or "(top level)"


def _decimals(data: dict[str, Any]) -> int:
    """``[money] decimals`` as written (if valid), for checking money settings against the minor unit."""
    money = data.get("money")
    value = money.get("decimals", 2) if isinstance(money, dict) else 2
    return value if isinstance(value, int) and 0 <= value <= 4 else 2


def parse_config(data: dict[str, Any], source: str = CONFIG_FILE) -> Config:
    """Validate config data; raise :class:`ConfigError` with one line per problem, each naming its key."""
    try:
        return Config.model_validate(data, context={"decimals": _decimals(data)})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{source}: {_key_path(tuple(err['loc']))}: {message}")
        raise ConfigError(problems) from None


def load_config(path: str | Path | None = None, dataset: str | Path | None = None) -> Config:
    """Load and validate the config from ``path``, else ``DATASET/mlmroi.toml``, else defaults. A
    ``dataset`` that is not a folder is a ConfigError (a misspelt path would otherwise give defaults)."""
    if path is None and dataset is not None and not Path(dataset).is_dir():
        raise ConfigError(f"{dataset}: dataset folder not found (looked for its {CONFIG_FILE})")
    if path is None and dataset is not None and (Path(dataset) / CONFIG_FILE).is_file():
        path = Path(dataset) / CONFIG_FILE
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    return parse_config(data, source=path.name)


def with_source(config: Config, uri: str | None) -> Config:
    """``config`` reading from the database at ``uri`` (CLI ``--source``; the config's ``[source]`` table
    names and password variable kept), re-validated; unchanged when ``uri`` is None."""
    if uri is None:
        return config
    data = config.model_dump()
    data["source"] = (data.get("source") or {}) | {"uri": uri}
    return parse_config(data, source="--source")


def with_overrides(config: Config, start: dt.date | None = None, end: dt.date | None = None) -> Config:
    """Return ``config`` with the window bounds replaced (CLI ``--start`` / ``--end``), re-validated."""
    data = config.model_dump()
    if start is not None:
        data["window"]["start"] = start
    if end is not None:
        data["window"]["end"] = end
    return parse_config(data, source="--start/--end")
