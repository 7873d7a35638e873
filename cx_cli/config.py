"""YAML config -> a validated, resolved Config. Every error names the key path and the fix."""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import difflib
import functools
import hashlib
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from cx_cli import files, kpis
from cx_cli.errors import ConfigError
from cx_cli.fields import SOURCE_KINDS, available
from cx_cli.report import RESULT_FIELDS

Period = Literal["day", "week", "month", "quarter", "year"]
PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "ge",
    "lt",
    "le",
    "startswith",
    "not_startswith",
    "contains",
    "is_null",
    "not_null",
)
# Result fields a segment name may not shadow in the CSV report's columns.
# Report columns, and "none" (`--by none`, like `--period none`, groups by no segment).
RESERVED_SEGMENT_NAMES = (frozenset(RESULT_FIELDS) - {"segment", "detail"}) | {"none"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FilterSpec(_Strict):
    """Keep a row only if this condition holds; `field` is a logical name, `column` a header."""

    field: str | None = None
    column: str | None = None
    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    startswith: str | None = None
    not_startswith: str | None = None
    contains: str | None = None
    is_null: bool | None = None
    not_null: bool | None = None

    @model_validator(mode="after")
    def _one_target_one_operator(self) -> FilterSpec:
        if (self.field is None) == (self.column is None):
            raise ValueError("a filter needs exactly one of 'field' (logical name) or 'column'")
        if len(self.operators()) != 1:
            raise ValueError(f"a filter needs exactly one operator of: {', '.join(OPERATORS)}")
        return self

    def operators(self) -> dict[str, Any]:
        """The operator set on this filter, by its YAML name."""
        found = {op: getattr(self, "in_" if op == "in" else op) for op in OPERATORS}
        return {op: value for op, value in found.items() if value is not None}

    def describe(self) -> str:
        """A short human label, used as the drop reason of rows it removes."""
        ((op, value),) = self.operators().items()
        return f"filter {self.field or self.column} {op} {value}"


def _check_thousands(thousands: str | None, decimal: str) -> None:
    """One character that is neither a digit, a sign nor the decimal separator: with
    `decimal: ","` and `thousands: ","`, 1,5 was not a number and 1,234 read as 1234."""
    if thousands is None:
        return
    if len(thousands) != 1 or thousands.isdigit() or thousands in "+-":
        raise ValueError(
            f"thousands: {thousands!r} is not a separator: give one character, such as "
            "',', '.', ' ' or \"'\""
        )
    if thousands == decimal:
        raise ValueError(
            f"thousands: {thousands!r} is also the decimal separator (decimal: {decimal!r}); "
            "one of them must differ"
        )


class SourceSpec(_Strict):
    """One input file: its kind, where it is, and how its columns map onto logical fields."""

    kind: Literal["responses", "tickets", "orders", "subscriptions", "sessions", "spend"]
    path: str | list[str] = Field(min_length=1)  # a file, glob, folder of Parquet, URL; or a list
    columns: dict[str, str]
    segments: dict[str, str] = {}
    filters: list[FilterSpec] = []
    preset: Literal["qualtrics", "surveymonkey"] | None = None
    header_rows: int = Field(default=1, ge=1, le=10)
    encoding: str | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    decimal: Literal[".", ","] = "."
    thousands: str | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")  # ISO 4217: EUR, USD
    date_format: str | None = None
    timezone: str | None = None
    values: dict[str, dict[str, float]] = {}
    scales: dict[str, tuple[int, int]] = {}
    dedupe: str | None = None
    order_total: Literal["sum", "first"] = "sum"
    bad_rows: Literal["error", "skip"] = "error"

    @model_validator(mode="after")
    def _known_fields(self) -> SourceSpec:
        known = SOURCE_KINDS[self.kind]
        for key in self.columns:
            if key not in known:
                raise ValueError(
                    f"'{key}' is not a field of kind {self.kind}"
                    f"{_did_you_mean(key, known)}; fields: {', '.join(known)}"
                )
        for section in ("values", "scales"):
            for key in getattr(self, section):
                if key not in self.columns:
                    raise ValueError(
                        f"{section}: '{key}' is not a mapped field "
                        f"(mapped: {', '.join(self.columns)})"
                    )
        for name in self.segments:
            if name in RESERVED_SEGMENT_NAMES:
                raise ValueError(
                    f"segment name '{name}' is reserved (a report column, or --by none); "
                    "choose another"
                )
        for name, answers in self.values.items():
            _check_answers(name, answers)
        for low, high in self.scales.values():
            if low >= high:
                raise ValueError(f"scale [{low}, {high}] must go from low to high")
        if self.dedupe and self.dedupe not in self.columns:
            raise ValueError(f"dedupe: '{self.dedupe}' is not a mapped field")
        _check_thousands(self.thousands, self.decimal)
        provided = available(self.kind, self.columns)
        for spec in self.filters:
            if spec.field and spec.field not in provided:
                raise ValueError(
                    f"filters: field '{spec.field}' is not mapped (mapped: "
                    f"{', '.join(self.columns)}); map it under columns, or filter on the raw "
                    "header with 'column:'"
                )
        return self

    @model_validator(mode="after")
    def _known_encoding_and_timezone(self) -> SourceSpec:
        if self.encoding:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(
                    f"encoding: unknown encoding '{self.encoding}' (e.g. utf-8, cp1252, utf-16)"
                ) from None
        if self.timezone:
            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"timezone: unknown time zone '{self.timezone}' (an IANA name such as "
                    "Europe/Berlin or America/New_York)"
                ) from None
        return self


class TargetSpec(_Strict):
    """A target value, optionally one per segment value: `segments: {channel: {chat: 60}}`."""

    value: float
    segments: dict[str, dict[str, float]] = {}


class ReportSpec(_Strict):
    """Report defaults; command-line options override them."""

    period: Literal["day", "week", "month", "quarter", "year", "none"] | None = None
    by: list[str] = []
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    min_n: int = Field(default=30, ge=0)
    since: dt.date | None = None
    until: dt.date | None = None
    suppress_low_sample: bool = False


class ConfigSpec(_Strict):
    """The whole YAML document, before KPI entries are resolved against the registry."""

    version: Literal[1]
    sources: dict[str, SourceSpec] = Field(min_length=1)
    kpis: list[str | dict[str, Any]] = Field(min_length=1)
    report: ReportSpec = ReportSpec()


@dataclass(frozen=True)
class Target:
    """A target a KPI's rows are checked against."""

    value: float
    segments: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)

    def for_segment(self, segment: Mapping[str, str]) -> float:
        """The target for a row: a per-segment value when one is given, else the overall one.

        When the row's values match under two segments (`channel: {phone: 40}` and
        `region: {EU: 80}` for a phone/EU row), the segment listed first in the target wins,
        whatever the order of --by."""
        for name, values in self.segments.items():
            label = segment.get(name)
            if label is not None and label in values:
                return values[label]
        return self.value


@dataclass(frozen=True)
class KpiChoice:
    """A configured KPI, resolved: its definition, source, validated options and target."""

    name: str
    source: str
    options: Any
    target: Target | None = None
    kind: str = ""
    parts: tuple[tuple[str, KpiChoice], ...] = ()  # (role, choice) of a KPI built from parts
    label: str = ""  # tells two entries of one KPI apart; the KPI name when not given
    currency: str | None = None  # its money's ISO 4217 code: its source's `currency:`

    @property
    def definition(self) -> kpis.Kpi:
        return kpis.get(self.name)

    @property
    def unit(self) -> str:
        """The unit of its values: the definition's, money as the configured currency code
        (EUR) when the source names one, else "currency"."""
        unit = self.definition.unit_for(self.options)
        return self.currency if unit == "currency" and self.currency else unit


@dataclass(frozen=True)
class Config:
    """A validated config: sources with absolute paths, resolved KPIs and report defaults."""

    path: Path | None
    sha256: str | None
    sources: Mapping[str, SourceSpec]
    kpis: tuple[KpiChoice, ...]
    report: ReportSpec

    def source_path(self, name: str) -> str | list[str]:
        """The source's path or paths: `-` for stdin, URLs as given, files and globs made
        absolute (relative to the config file)."""
        raw = self.sources[name].path
        if isinstance(raw, list):
            return [self._absolute(item) for item in raw]
        return self._absolute(raw)

    def _absolute(self, path: str) -> str:
        if path == "-" or "://" in path or self.path is None or Path(path).is_absolute():
            return path
        return str((self.path.parent / path).resolve())


def _check_answers(name: str, answers: dict[str, float]) -> None:
    """Two `values:` answers that match the same text (they differ only in case or spaces)
    must map to the same number."""
    from cx_cli.coerce import answer_key

    seen: dict[str, tuple[str, float]] = {}
    for text, value in answers.items():
        first = seen.setdefault(answer_key(text), (text, value))
        if first[1] != value:
            raise ValueError(
                f"values: {name}: {first[0]!r} and {text!r} are the same answer (case and "
                f"spaces do not count) but map to {first[1]:g} and {value:g}"
            )


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _key_path(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-after"))


def _config_error(exc: ValidationError, where: str) -> ConfigError:
    """The first validation problem, as one message naming the key path. An unknown key comes
    first: a misspelled key (`colums:`) is why a required one (`columns:`) is missing."""
    errors = exc.errors(include_url=False)
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    path = _key_path(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        key = str(first["loc"][-1])
        message = f"unknown key '{key}'"
        hint = _unknown_key_hint(key, path)
    else:
        hint = "see the README's Config section, or config.example.yaml in the repository"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return ConfigError(f"{where}: {path + ': ' if path else ''}{message}{more}", hint=hint)


_ALL_KEYS = {
    *ConfigSpec.model_fields,
    *SourceSpec.model_fields,
    *ReportSpec.model_fields,
    *TargetSpec.model_fields,
    "in",
    *FilterSpec.model_fields,
}
# Where a key belongs, for one written at another level (`report: {timezone: ...}`).
_KEY_PLACES = {
    **{key: "a filter (sources.NAME.filters)" for key in (*FilterSpec.model_fields, "in")},
    **{key: "a KPI's target (kpis: - {kpi: ..., target: ...})" for key in TargetSpec.model_fields},
    **{key: "a KPI entry (kpis: - {kpi: ...})" for key in ("kpi", "variant", "target", "label")},
    **{key: "report" for key in ReportSpec.model_fields},
    **{key: "a source (sources.NAME)" for key in SourceSpec.model_fields},
    **{key: "the top level" for key in ConfigSpec.model_fields},
}


def _unknown_key_hint(key: str, path: str) -> str:
    """Where a key that is known elsewhere belongs; else the closest known key."""
    place = _KEY_PLACES.get(key)
    if place:
        return f"'{key}' is a key of {place}: move it there"
    return "remove it or fix its spelling" + _did_you_mean(key, _ALL_KEYS)


MAX_YAML_ALIASES = 40  # 3^(40/3) ~ 2 million nodes at worst


class _UnreadableValue(yaml.constructor.ConstructorError):
    """A YAML value its tag cannot be built from: an unquoted date that is no date
    (2025-31-01), or an explicit tag that does not fit (!!int foo)."""

    def __init__(self, node: yaml.Node, why: Exception) -> None:
        tag = node.tag.rsplit(":", 1)[-1]
        kind = "a date" if tag == "timestamp" else f"{'an' if tag[0] in 'aeiou' else 'a'} {tag}"
        said = f" ({why})" if isinstance(why, ValueError) else ""  # others say PyYAML's insides
        super().__init__(None, None, f"{node.value!r} is not {kind}{said}", node.start_mark)
        self.value = node.value


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, whose values that cannot be built are YAML errors naming the line,
    not a ValueError (KeyError, ...) from deep inside the loader."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise _UnreadableValue(node, exc) from None


def read_yaml(path: Path) -> tuple[Any, bytes]:
    """Parse a YAML file with the safe loader (no Python object tags); errors name the line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {path}",
            hint="pass -c PATH, or draft one with: cxkpi init YOUR_EXPORT.csv",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        aliases = sum(
            isinstance(t, yaml.AliasToken) for t in yaml.scan(raw, Loader=yaml.SafeLoader)
        )
        if aliases > MAX_YAML_ALIASES:
            raise ConfigError(
                f"{path.name}: {aliases} YAML aliases (*name); at most {MAX_YAML_ALIASES} are "
                "allowed, so a crafted file cannot expand into gigabytes",
                hint="write the repeated parts out",
            )
        return yaml.load(raw, Loader=_ConfigLoader), raw  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            f"{path.name}, line {mark.line + 1}, column {mark.column + 1}" if mark else path.name
        )
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, _UnreadableValue):
            raise ConfigError(
                f"{where}: {problem}",
                hint=f"correct the value, or quote it ('{exc.value}') if it is text",
            ) from None
        raise ConfigError(
            f"{where}: not valid YAML: {problem}",
            hint="check indentation and quoting; Python object tags are not allowed",
        ) from None


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve a config file; raises ConfigError naming the key and the fix."""
    path = Path(path)
    document, raw = read_yaml(path)
    return parse_config(document, path=path, sha256=hashlib.sha256(raw).hexdigest())


def parse_config(document: Any, *, path: Path | None = None, sha256: str | None = None) -> Config:
    """Validate a parsed YAML document and resolve its KPI entries against the registry."""
    where = path.name if path else "config"
    if not isinstance(document, dict):
        raise ConfigError(
            f"{where}: the config must be a YAML mapping with version, sources and kpis",
            hint="see the README's Config section, or config.example.yaml in the repository",
        )
    try:
        spec = ConfigSpec.model_validate(document)
    except ValidationError as exc:
        raise _config_error(exc, where) from None
    folder = path.parent if path else None
    choices = tuple(
        resolve_kpi(entry, spec.sources, f"{where}: kpis[{i}]", folder)
        for i, entry in enumerate(spec.kpis)
    )
    labels = [choice.label for choice in choices]
    for label in labels:
        if labels.count(label) > 1:
            raise ConfigError(
                f"{where}: kpis: '{label}' is configured more than once",
                hint="give each entry its own 'label: NAME' (e.g. fcr_resolved)",
            )
    config = Config(path, sha256, spec.sources, choices, spec.report)
    check_segments(config, spec.report.by, f"{where}: report.by")
    return config


def resolve_kpi(
    entry: str | Mapping[str, Any],
    sources: Mapping[str, SourceSpec],
    where: str,
    folder: Path | None = None,
) -> KpiChoice:
    """Turn a short (`nps`) or long (`{kpi: nps, ...}`) KPI entry into a KpiChoice.

    `folder` is the config file's folder, so an error can list the columns a source has.
    """
    entry = {"kpi": entry} if isinstance(entry, str) else dict(entry)
    name = entry.pop("kpi", None)
    if not isinstance(name, str):
        raise ConfigError(
            f"{where}: a KPI entry needs 'kpi: NAME'", hint=f"known KPIs: {', '.join(kpis.names())}"
        )
    if name not in kpis.names():
        raise ConfigError(
            f"{where}: unknown KPI '{name}'{_did_you_mean(name, kpis.names())}",
            hint=f"known KPIs: {', '.join(kpis.names())} (cxkpi kpis lists them)",
        )
    definition = kpis.get(name)
    target = _parse_target(entry.pop("target", None), f"{where}.target")
    label = str(entry.pop("label", None) or name)
    if definition.parts:
        choice = _resolve_composite(definition, entry, sources, target, where, folder)
        return dataclasses.replace(choice, label=label)
    source = _pick_source(definition, entry.pop("source", None), sources, where)
    options = _parse_options(definition, entry, sources[source], where, folder)
    _check_fields(definition, options, sources, source, where, folder)
    spec = sources[source]
    return KpiChoice(name, source, options, target, spec.kind, label=label, currency=spec.currency)


def _resolve_composite(
    definition: kpis.Kpi,
    entry: dict[str, Any],
    sources: Mapping[str, SourceSpec],
    target: Target | None,
    where: str,
    folder: Path | None,
) -> KpiChoice:
    """A KPI built from parts on other sources; `sources: {role: NAME}` picks them."""
    chosen = entry.pop("sources", None) or {}
    if not isinstance(chosen, dict) or set(chosen) - set(definition.parts):
        raise ConfigError(
            f"{where}.sources: KPI '{definition.name}' takes sources for the roles "
            f"{', '.join(definition.parts)}",
            hint="e.g. sources: {" + ", ".join(f"{r}: NAME" for r in definition.parts) + "}",
        )
    options = _parse_options(definition, entry, None, where)
    shared = dataclasses.asdict(options)
    parts = []
    for role, part_name in definition.parts.items():
        part = kpis.get(part_name)
        source = _pick_source(part, chosen.get(role), sources, f"{where} ({role})")
        own = {k: v for k, v in shared.items() if k in part.option_names() and k != "variant"}
        part_options = _parse_options(part, own, sources[source], f"{where} ({role})", folder)
        _check_fields(part, part_options, sources, source, f"{where} ({role})", folder)
        spec = sources[source]
        part_choice = KpiChoice(
            part_name, source, part_options, None, spec.kind, currency=spec.currency
        )
        parts.append((role, part_choice))
    label = "+".join(dict.fromkeys(choice.source for _, choice in parts))
    money = _one_currency(definition.name, parts, where)
    return KpiChoice(definition.name, label, options, target, "", tuple(parts), currency=money)


def _one_currency(name: str, parts: Sequence[tuple[str, KpiChoice]], where: str) -> str | None:
    """The currency of a composite KPI's money parts (spend, CLV, ARPA), which must agree:
    an LTV:CAC of euros over dollars is no ratio. None when no source names one."""
    codes = {
        role: choice.currency
        for role, choice in parts
        if choice.currency and choice.definition.unit == "currency"
    }
    if len(set(codes.values())) > 1:
        said = ", ".join(f"{role} in {code}" for role, code in codes.items())
        raise ConfigError(
            f"{where}: KPI '{name}' sets money in different currencies against each other ({said})",
            hint="convert one export to the other's currency first, or pick sources in one "
            "currency",
        )
    return next(iter(codes.values()), None)


def _check_fields(
    definition: kpis.Kpi,
    options: Any,
    sources: Mapping[str, SourceSpec],
    source: str,
    where: str,
    folder: Path | None,
) -> None:
    spec = sources[source]
    provided = available(spec.kind, spec.columns)
    try:
        needed = definition.required_fields(options, spec.kind)
    except (ValueError, ConfigError) as exc:
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        hint = exc.hint if isinstance(exc, ConfigError) else None
        raise ConfigError(f"{where}: {message}", hint=hint) from None
    for field in needed:
        if field not in provided:
            columns = _columns_of(spec, folder)
            raise ConfigError(
                f"{where}: KPI '{definition.name}' needs field '{field}', which source "
                f"'{source}' does not map",
                hint=f"add '{field}: <column header>' under sources.{source}.columns "
                f"(mapped now: {', '.join(spec.columns) or 'nothing'}){columns}",
            )


def _header_of(spec: SourceSpec, folder: Path | None) -> list[str]:
    """The source file's header for a hint; empty when it cannot be read (or is stdin)."""
    from cx_cli.sources import read_header

    paths = spec.path if isinstance(spec.path, list) else [spec.path]
    if paths[0] == "-" or "://" in paths[0]:
        return []
    first = Path(paths[0]) if folder is None else folder / paths[0]
    return read_header(str(first), spec)


def _pick_source(
    definition: kpis.Kpi, chosen: Any, sources: Mapping[str, SourceSpec], where: str
) -> str:
    kinds = " or ".join(definition.kinds)
    fitting = [n for n, s in sources.items() if s.kind in definition.kinds]
    if chosen is not None:
        if chosen not in sources:
            raise ConfigError(
                f"{where}.source: no source named '{chosen}'", hint=f"sources: {', '.join(sources)}"
            )
        if sources[chosen].kind not in definition.kinds:
            raise ConfigError(
                f"{where}.source: KPI '{definition.name}' reads a source of kind {kinds}, "
                f"and '{chosen}' is {sources[chosen].kind}"
            )
        return str(chosen)
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        raise ConfigError(
            f"{where}: KPI '{definition.name}' needs a source of kind {kinds}, "
            "and the config has none",
            hint=f"add a source with 'kind: {definition.kinds[0]}'",
        )
    raise ConfigError(
        f"{where}: several sources fit KPI '{definition.name}' ({', '.join(fitting)})",
        hint="add 'source: NAME' to the KPI entry",
    )


def _parse_target(raw: Any, where: str) -> Target | None:
    if raw is None:
        return None
    try:
        spec = TargetSpec.model_validate({"value": raw} if not isinstance(raw, dict) else raw)
    except ValidationError as exc:
        raise _config_error(exc, where) from None
    return Target(spec.value, spec.segments)


@functools.cache
def _adapter(options: type) -> TypeAdapter[Any]:
    """A validator per options class, built once (building one costs milliseconds)."""
    return TypeAdapter(options)


def _parse_options(
    definition: kpis.Kpi,
    raw: dict[str, Any],
    source: SourceSpec | None,
    where: str,
    folder: Path | None = None,
) -> Any:
    """Validate a KPI's own options, filling a score scale from the source's `scales:`."""
    known = definition.option_names()
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{where}: KPI '{definition.name}' has no option '{key}'"
                f"{_did_you_mean(key, known)}",
                hint=f"options of {definition.name}: kpi, source, target, label, "
                f"{', '.join(known)}",
            )
    if "scale" in known and "scale" not in raw and source is not None:
        field = definition.fields[0]
        declared = SOURCE_KINDS[source.kind][field].scale
        raw = {**raw, "scale": source.scales.get(field, declared)}
    try:
        options = _adapter(definition.Options).validate_python(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ConfigError(
            f"{where}.{_key_path(first['loc'])}: {first['msg']}",
            hint=f"variants of {definition.name}: {', '.join(definition.variants)}",
        ) from None
    explains = f"cxkpi kpis {definition.name} explains it"
    try:
        options = definition.check_options(options)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}", hint=explains) from None
    if source is None:
        return options
    try:
        return definition.resolve_options(
            options, frozenset(available(source.kind, source.columns))
        )
    except ValueError as exc:  # none of the fields a choice can be made from is mapped
        raise ConfigError(f"{where}: {exc}", hint=explains + _columns_of(source, folder)) from None


def _columns_of(spec: SourceSpec, folder: Path | None) -> str:
    """ "; columns in FILE: ..." for a hint on mapping a field, or "" when unreadable."""
    header = _header_of(spec, folder)
    return f"; columns in {files.display(spec.path)}: {', '.join(header)}" if header else ""


def leaves(choice: KpiChoice) -> tuple[KpiChoice, ...]:
    """The choices that read a source: the choice itself, or its parts."""
    return tuple(part for _, part in choice.parts) or (choice,)


def check_segments(config: Config, by: Iterable[str], where: str) -> None:
    """Every --by name must be a segment of every source a KPI reads, and be named once."""
    by = list(by)
    twice = next((name for name in by if by.count(name) > 1), None)
    if twice is not None:
        raise ConfigError(f"{where}: '{twice}' is named twice", hint="list each segment once")
    for name in by:
        for source in {leaf.source for choice in config.kpis for leaf in leaves(choice)}:
            segments = config.sources[source].segments
            if name not in segments:
                raise ConfigError(
                    f"{where}: '{name}' is not a segment of source '{source}'"
                    f"{_did_you_mean(name, segments)}",
                    hint=f"segments of {source}: {', '.join(segments) or 'none'}; add "
                    f"'{name}: <column header>' under sources.{source}.segments",
                )
