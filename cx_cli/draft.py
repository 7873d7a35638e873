"""Draft a config from a CSV export: guess each column's logical field from its header and values.

`cxkpi init` prints the draft; every guess it is unsure of carries a `# guess:` comment, and the
columns it could not place are listed, so a person can finish the config in a minute.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import statistics
import textwrap
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cx_cli import files
from cx_cli.coerce import BLANK_TOKENS
from cx_cli.config import RESERVED_SEGMENT_NAMES
from cx_cli.errors import InputError
from cx_cli.fields import SOURCE_KINDS
from cx_cli.sources import DELIMITERS, EXCEL_SEPARATOR, sniff_delimiter

if TYPE_CHECKING:
    import pandas as pd

SOURCE_NAME = "surveys"
SCORE_FIELDS = ("nps", "csat", "ces")
DEFAULT_SCALES: dict[str, tuple[int, int]] = {
    f: SOURCE_KINDS["responses"][f].scale or (0, 0) for f in SCORE_FIELDS
}
SHAPES = ((1, 5), (1, 7), (0, 10))  # the usual answer scales, narrowest first
HEAD_BYTES = 1 << 20
FIT = 0.95  # share of answers that must sit on a scale (exports carry a little junk)
NUMERIC = 0.9  # share of non-blank values that must be whole numbers for a score
DATES = 0.8  # share of non-blank values that must parse as dates
MAX_SEGMENT_VALUES = 30
WRAP = 100
EMPTY_HINT = "export the data again; a draft needs a header row and data rows"
QUOTED = ("delimiter", "date_format")  # written as the contract shows them: "%d/%m/%Y", ";"

# Header words, matched as substrings (long words) or whole tokens (short ones).
SCORE_WORDS = {
    "nps": (("recommend", "likel", "promoter"), ("nps", "ltr")),
    "ces": (("easy", "easie", "effort", "difficult", "hassle"), ("ces", "ease")),
    "csat": (("satisf",), ("csat", "sat")),
}
EFFORT_WORDS = (("effort", "difficult", "hassle"), ())
WHEN_BEST = (("submit", "record", "respon", "answer"), ())
WHEN_STRONG = (("complet", "finish"), ("end",))
WHEN_WEAK = (("date", "time", "created", "stamp"), ("at", "on", "when", "day"))
COMMENT_WORDS = (
    ("comment", "feedback", "verbatim", "reason", "suggest", "remark", "explain", "improve"),
    ("why", "note", "notes", "text", "open", "tell", "anything", "other"),
)
ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "key", "number", "no", "num", "ref", "code"})
MAIL_TOKENS = frozenset({"email", "mail"})
RESPONSE_TOKENS = frozenset({"response", "respondent", "submission", "record", "survey", "answer"})
CUSTOMER_TOKENS = frozenset(
    {"customer", "client", "user", "account", "contact", "member", "person", "recipient", "cust"}
)
LEADING_INT = r"^(-?\d+)(?:\.0+)?(?:\s*[-–—:.()=/]*\s*([^\W\d_].*))?$"
DATE_PARTS = (
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%m/%d/%y",
)
DATE_LIKE = (  # 2024-03-01, 01/03/24, 1.3.2024, March 1, 2024, 1 Mar 2024
    r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"
    r"|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}"
    r"|\d{1,2} [A-Za-z]{3,9}\.? \d{4}"
)
TIME_PARTS = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")


@dataclass(frozen=True)
class Profile:
    """What one column looks like in the rows read: the facts every guess is made from."""

    index: int
    header: str
    words: str  # header (and question text, for presets), lower case
    tokens: frozenset[str]
    n: int  # non-blank values
    distinct: int
    median_len: float
    ints: Counter[int]  # whole-number answers (a leading number counts: "10 - Very likely")
    labels: dict[str, int]  # answers with text after the number, and their number
    date_share: float = 0.0
    date_format: str | None = None  # None: ISO 8601 (or no dates at all)
    date_note: str | None = None
    examples: tuple[str, ...] = ()

    @property
    def int_share(self) -> float:
        return sum(self.ints.values()) / self.n if self.n else 0.0

    def fits(self, scale: tuple[int, int]) -> bool:
        """Whether nearly all non-blank answers are whole numbers on this scale."""
        low, high = scale
        on = sum(c for v, c in self.ints.items() if low <= v <= high)
        return self.int_share >= NUMERIC and on >= FIT * sum(self.ints.values())

    def seen(self, low: int, high: int) -> bool:
        return any(low <= v <= high for v in self.ints)

    @property
    def shape(self) -> tuple[int, int] | None:
        return next((s for s in SHAPES if self.fits(s)), None)

    @property
    def is_date(self) -> bool:
        return self.date_share >= DATES


@dataclass(frozen=True)
class Candidate:
    """A column that could hold a logical field; the higher the strength, the surer (1: values
    only, no telling header)."""

    field: str
    profile: Profile
    strength: int
    scale: tuple[int, int] | None = None


@dataclass
class Draft:
    """The guesses, collected before they are written out as YAML."""

    name: str
    rows: int
    encoding: str | None = None
    delimiter: str | None = None
    preset: str | None = None
    columns: dict[str, Profile] = field(default_factory=dict)
    guesses: dict[str, list[str]] = field(default_factory=dict)
    scales: dict[str, tuple[int, int]] = field(default_factory=dict)
    values: dict[str, dict[str, int]] = field(default_factory=dict)
    date_format: str | None = None
    segments: dict[str, Profile] = field(default_factory=dict)
    unmapped: dict[int, tuple[str, str]] = field(default_factory=dict)

    def guess(self, key: str, text: str) -> None:
        self.guesses.setdefault(key, []).append(text)

    def placed(self, profile: Profile) -> bool:
        used = [*self.columns.values(), *self.segments.values()]
        return any(p.index == profile.index for p in used)


def draft_config(
    path: Path, *, sample_rows: int = 2000, config_path: Path | str | None = None
) -> str:
    """The text of a YAML config for a survey export, guessed from its header and first rows.

    `config_path` is the path to write into the config (e.g. relative to where it is saved);
    by default the CSV's path as given.
    """
    return drafted(path, sample_rows=sample_rows, config_path=config_path)[0]


def drafted(
    path: Path, *, sample_rows: int = 2000, config_path: Path | str | None = None
) -> tuple[str, str | None]:
    """`draft_config`'s text, and a warning when no column header names a survey score (an
    orders or tickets export, say: init drafts survey exports only), else None."""
    if sample_rows < 1:
        raise ValueError("sample_rows must be at least 1")
    path = Path(path)
    frame, draft = _read(path, sample_rows)
    _guess(draft, _profiles(frame, draft))
    warning = None if _names_a_score(draft) else NOT_A_SURVEY
    text = _render(draft, str(config_path if config_path is not None else path), warning)
    return text, warning


NOT_A_SURVEY = (
    "no column header names an NPS, CSAT or CES question: cxkpi init drafts configs for "
    "survey exports only. For orders, tickets, subscriptions, spend or web exports, start from "
    "the matching source in the README's Config section (or config.example.yaml in the repository)"
)


def _names_a_score(draft: Draft) -> bool:
    """Whether a placed score column's header says which score it holds."""
    return any(_said_score(p) for name, p in draft.columns.items() if name in SCORE_FIELDS)


# -- reading ---------------------------------------------------------------------------------


def _read_head(path: Path) -> tuple[bytes, str | None]:
    """The first `HEAD_BYTES` of the file's text bytes (decompressed when its first bytes say
    gzip, bzip2 or zstd, as the readers do), and that compression."""
    try:
        with open(path, "rb") as stream:
            packed = files.compression_of(stream.read(4))
            stream.seek(0)
            head = _unpacked_head(stream, packed, path) if packed else stream.read(HEAD_BYTES)
    except FileNotFoundError:
        raise InputError(
            f"{path}: file not found", hint="check the path and the file name"
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file", hint="pass a CSV file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if not head.strip():
        raise InputError(f"{path}: the file is empty", hint=EMPTY_HINT)
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise InputError(
            f"{path}: looks like an Excel workbook, not a CSV file",
            hint="save the sheet as CSV (UTF-8) and draft from that",
        )
    return head, packed


def _unpacked_head(stream: Any, packed: str, path: Path) -> bytes:
    import pyarrow as pa

    try:
        return files.read_head(pa.CompressedInputStream(stream, packed), HEAD_BYTES)
    except (OSError, pa.ArrowException) as exc:
        raise files.decompression_error(str(path), None, packed, exc) from None


def _encoding(head: bytes) -> tuple[str, str | None]:
    """(codec to read with, value for the config's `encoding:` or None for the default)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", None
    try:  # the head may end inside a character: decode it as the start of a stream
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252", "cp1252"
    return "utf-8", None


def _read(path: Path, sample_rows: int) -> tuple[pd.DataFrame, Draft]:
    """The raw header and first rows as text (header in row 0), and how the file is written."""
    head, packed = _read_head(path)
    codec, declared = _encoding(head)
    text = head.decode(codec, errors="replace").lstrip("\ufeff")
    if len(head) == HEAD_BYTES and "\n" in text:
        text = text[: text.rindex("\n")]
    excel = EXCEL_SEPARATOR.match(text.replace("\r\n", "\n").replace("\r", "\n"))  # "sep=;"
    if excel:  # the line above the header
        text = (re.split(r"\r\n|\r|\n", text, maxsplit=1)[1:] or [""])[0]
    delimiter = excel.group(1) if excel else sniff_delimiter(text)
    above = int(excel is not None)
    try:
        frame = _read_frame(path, codec, delimiter, sample_rows + 3, above, packed)
    except UnicodeDecodeError:
        codec = declared = "cp1252"
        frame = _read_frame(path, codec, delimiter, sample_rows + 3, above, packed)
    first_line = text.splitlines()[0] if text else ""
    draft = Draft(path.name, 0, encoding=declared)
    others = [d for d in DELIMITERS if d != ","]
    if delimiter != "," or any(d in first_line for d in others):
        draft.delimiter = delimiter
    draft.preset = _preset(frame)
    skip = {"qualtrics": 2, "surveymonkey": 1}.get(draft.preset or "", 0)
    draft.rows = min(len(frame) - 1 - skip, sample_rows)
    if draft.rows < 1:
        raise InputError(
            f"{path}: the file has a header but no data rows",
            hint="draft from an export with some answers in it",
        )
    return frame.iloc[: 1 + skip + sample_rows], draft


def _read_frame(
    path: Path, codec: str, delimiter: str, rows: int, skip: int, packed: str | None
) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    try:
        with open(path, "rb") as stored:  # Arrow decompresses zstd too (pandas needs a package)
            stream = pa.CompressedInputStream(stored, packed) if packed else stored
            frame = _frame_of(stream, codec, delimiter, rows, skip)
    except (pa.ArrowException, OSError) as exc:
        if not packed:
            raise
        raise files.decompression_error(str(path), None, packed, exc) from None
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{path}: cannot parse the CSV: {str(exc).strip().splitlines()[-1]}",
            hint="check that every row has as many fields as the header",
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty", hint=EMPTY_HINT) from None
    return frame.fillna("")


def _frame_of(stream: Any, codec: str, delimiter: str, rows: int, skip: int) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(
        stream,
        sep=delimiter,
        header=None,
        skiprows=skip,
        dtype=str,
        nrows=rows,
        keep_default_na=False,
        encoding=codec,
        encoding_errors="replace" if codec == "cp1252" else "strict",
    )


def _preset(frame: pd.DataFrame) -> str | None:
    """Qualtrics (question text and ImportId rows) or SurveyMonkey (a second header row)."""
    header = [str(h).strip().lower() for h in frame.iloc[0]]
    if len(frame) > 2 and any(str(c).startswith('{"ImportId"') for c in frame.iloc[2]):
        return "qualtrics"
    if "respondent id" in header and "collector id" in header:
        return "surveymonkey"
    return None


# -- profiling -------------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    """Words of a header: `ResponseId` -> response, id; `NPSScore` -> nps, score."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", ascii_text.lower())


def _mentions(profile: Profile, words: tuple[Sequence[str], Sequence[str]]) -> bool:
    substrings, tokens = words
    return any(w in profile.words for w in substrings) or bool(profile.tokens & set(tokens))


def _profiles(frame: pd.DataFrame, draft: Draft) -> list[Profile]:
    """One Profile per column that has a usable header; the others go to `unmapped`."""
    headers = [str(h) for h in frame.iloc[0]]
    skip = {"qualtrics": 2, "surveymonkey": 1}.get(draft.preset or "", 0)
    questions = [str(q) for q in frame.iloc[1]] if draft.preset == "qualtrics" else None
    counts = Counter(headers)
    profiles = []
    for i, header in enumerate(headers):
        if not header.strip():
            draft.unmapped[i] = (f"column {i + 1}", "no header")
        elif counts[header] > 1:
            draft.unmapped[i] = (header, f"the header appears {counts[header]} times")
        else:
            words = f"{header} {questions[i]}" if questions else header
            profiles.append(_profile(i, header, words, frame.iloc[1 + skip :, i]))
    return profiles


def _profile(index: int, header: str, words: str, column: pd.Series) -> Profile:
    import pandas as pd

    values = column.astype(str).str.strip()
    values = values[~values.str.lower().isin(BLANK_TOKENS)]
    parsed = values.str.extract(LEADING_INT, flags=re.DOTALL)
    numbers = pd.to_numeric(parsed[0], errors="coerce")
    has_label = parsed[1].notna() & numbers.notna()
    base = Profile(
        index=index,
        header=header,
        words=words.lower(),
        tokens=frozenset(_tokens(words)),
        n=len(values),
        distinct=values.nunique(),
        median_len=statistics.median(values.str.len()) if len(values) else 0.0,
        ints=Counter(int(v) for v in numbers.dropna()),
        labels={str(t): int(v) for t, v in zip(values[has_label], numbers[has_label], strict=True)},
        examples=tuple(values.drop_duplicates().head(3)),
    )
    if base.n and base.int_share < 0.5 and values.str.contains(DATE_LIKE).mean() >= DATES:
        share, fmt, note = _date_fit(values.drop_duplicates().head(500))
        return dataclasses.replace(base, date_share=share, date_format=fmt, date_note=note)
    return base


def _date_share(values: pd.Series, fmt: str) -> float:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            when = pd.to_datetime(values, format=fmt, errors="coerce")
        except (ValueError, TypeError):  # mixed UTC offsets
            when = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    return float(when.notna().mean())


def _date_fit(values: pd.Series) -> tuple[float, str | None, str | None]:
    """Share of values that are dates, the date_format they need (None: ISO 8601), a caveat."""
    iso = _date_share(values, "ISO8601")
    if iso >= DATES:
        return iso, None, None
    shares = {f + t: _date_share(values, f + t) for f in DATE_PARTS for t in TIME_PARTS}
    best = max(shares, key=lambda f: shares[f])
    if shares[best] >= DATES:
        swapped = best.replace("%d", "%D").replace("%m", "%d").replace("%D", "%m")
        if swapped != best and shares.get(swapped) == shares[best]:
            note = f"every day and month is 12 or less, so {best!r} could as well be {swapped!r}"
            return shares[best], best, note
        return shares[best], best, None
    mixed = _date_share(values, "mixed")
    note = "the dates are in no single format; set date_format to the one most rows use"
    return (mixed, None, note) if mixed >= DATES else (max(iso, mixed), None, None)


# -- guessing --------------------------------------------------------------------------------


def _guess(draft: Draft, profiles: list[Profile]) -> None:
    """Place columns in order of confidence: scores, the date, ids, comment, then segments."""
    _place(draft, [c for p in profiles for c in _score_candidates(p)], SCORE_FIELDS)
    _place_values(draft)
    _place(draft, [c for p in profiles if (c := _when_candidate(p))], ("submitted_at",))
    if "submitted_at" in draft.columns:
        draft.date_format = draft.columns["submitted_at"].date_format
        note = draft.columns["submitted_at"].date_note
        if note:
            draft.guess("submitted_at", note)
    ids = [c for p in profiles if not draft.placed(p) for c in _id_candidates(p)]
    _place(draft, ids, ("response_id", "customer_id"))
    rest = [p for p in profiles if not draft.placed(p)]
    _place(draft, [c for p in rest if (c := _comment_candidate(p))], ("comment",))
    for profile in profiles:
        if not draft.placed(profile):
            _segment_or_unmapped(draft, profile)


def _score_candidates(p: Profile) -> list[Candidate]:
    said = _said_score(p)
    shape = p.shape
    if shape is None:
        return []
    spread = {
        "nps": p.fits((0, 10)) and p.seen(9, 10) and p.seen(0, 6),
        "csat": shape == (1, 5),
        "ces": shape == (1, 7) and p.seen(6, 7),
    }
    if said is not None:
        if spread[said]:
            return [Candidate(said, p, 3)]
        if said != "nps":
            low = 0 if shape == (0, 10) and p.seen(0, 0) else 1
            return [Candidate(said, p, 2, (low, shape[1]))]
        return []
    varied = len(p.ints) >= 3 and p.seen(4, 10) and not p.tokens & ID_TOKENS
    return [Candidate(f, p, 1) for f in SCORE_FIELDS if spread[f] and varied]


def _when_candidate(p: Profile) -> Candidate | None:
    if not p.is_date:
        return None
    ranks = ((4, WHEN_BEST), (3, WHEN_STRONG), (2, WHEN_WEAK))
    strength = next((rank for rank, words in ranks if _mentions(p, words)), 1)
    return Candidate("submitted_at", p, strength)


def _id_candidates(p: Profile) -> list[Candidate]:
    many = p.distinct >= 2 and (p.n < 20 or p.distinct >= 0.1 * p.n)
    if not many:
        return []
    out = []
    idish = bool(p.tokens & ID_TOKENS)
    named = bool(p.tokens & RESPONSE_TOKENS) or p.tokens <= ID_TOKENS
    if p.distinct >= 0.9 * p.n and idish and named and not p.tokens & CUSTOMER_TOKENS:
        out.append(Candidate("response_id", p, 3))
    if p.tokens & MAIL_TOKENS or (p.tokens & CUSTOMER_TOKENS and idish):
        out.append(Candidate("customer_id", p, 3))
    return out


def _comment_candidate(p: Profile) -> Candidate | None:
    if p.int_share >= 0.5 or p.is_date or not p.n:
        return None
    said = _mentions(p, COMMENT_WORDS)
    if p.median_len >= 25 or (said and p.median_len >= 10):
        return Candidate("comment", p, 2 if said else 1)
    return None


def _place(draft: Draft, candidates: list[Candidate], fields: Iterable[str]) -> None:
    """Give each field its strongest candidate; mark weak or contested choices as guesses."""
    for name in fields:
        mine = sorted(
            (c for c in candidates if c.field == name), key=lambda c: (-c.strength, c.profile.index)
        )
        free = [c for c in mine if not draft.placed(c.profile)]
        if not free:
            continue
        best = free[0]
        draft.columns[name] = best.profile
        if best.scale:
            draft.scales[name] = best.scale
        why = _why(best)
        if why:
            draft.guess(name, why)
        rivals = [c.profile.header for c in free[1:] if c.strength >= best.strength]
        if rivals:
            draft.guess(name, f"other columns could be {name} too: {_show_all(rivals)}")


def _why(c: Candidate) -> str | None:
    header = _show(c.profile.header)
    if c.field in SCORE_FIELDS:
        low, high = c.scale or DEFAULT_SCALES[c.field]
        if c.strength == 2:
            return (
                f"{header} reads like {c.field} but its answers run {low}-{high}, so "
                f"scales: sets {low}-{high}; check the real scale of the question"
            )
        if c.strength == 1:
            return (
                f"{header} has whole-number answers {low}-{high}, but its header does not "
                f"say what it asks; it could be another {low}-{high} rating"
            )
        if c.field == "ces" and _mentions(c.profile, EFFORT_WORDS) and "eas" not in c.profile.words:
            return (
                "the question asks about effort: if a low answer means little effort, add "
                "direction: lower_is_better to the ces KPI"
            )
        return None
    if c.strength == 1:
        kind = {"submitted_at": "dates", "comment": "long free text"}.get(c.field, "unique values")
        return f"{header} holds {kind}, but its header does not say so"
    return None


def _place_values(draft: Draft) -> None:
    """Answers like `10 - Extremely likely` need a `values:` map: the reader wants numbers."""
    for name in SCORE_FIELDS:
        profile = draft.columns.get(name)
        if profile and profile.labels:
            draft.values[name] = dict(sorted(profile.labels.items(), key=lambda kv: -kv[1]))
            draft.guess(
                name,
                "its answers have text after the number; values: maps the answers seen so far, "
                "add any others the survey can give",
            )


def _segment_or_unmapped(draft: Draft, p: Profile) -> None:
    small = p.distinct <= MAX_SEGMENT_VALUES and (p.n < 20 or p.distinct <= p.n / 2)
    rated = _score_candidates(p) or _said_score(p)
    if p.distinct >= 2 and small and not rated and not p.is_date and p.median_len < 25:
        draft.segments[_segment_name(p.header, draft.segments)] = p
    else:
        draft.unmapped[p.index] = (p.header, _unplaced_reason(draft, p))


def _said_score(p: Profile) -> str | None:
    return next((f for f in SCORE_FIELDS if _mentions(p, SCORE_WORDS[f])), None)


def _taken(draft: Draft, name: str) -> str:
    profile = draft.columns.get(name)
    return f", which is {_show(profile.header)}" if profile else ""


def _unplaced_reason(draft: Draft, p: Profile) -> str:
    """Why a column is left out, with what it looks like, so placing it by hand is quick."""
    if not p.n:
        return f"blank in the {draft.rows} rows read"
    if p.distinct == 1:
        return f"one value only ({_show(p.examples[0])})"
    scores = _score_candidates(p)
    if scores and p.shape:
        low, high = p.shape
        return f"whole numbers {low}-{high}, like {scores[0].field}{_taken(draft, scores[0].field)}"
    said = _said_score(p)
    if said:
        example = _show(p.examples[0])
        return (
            f"reads like {said} but its answers are not whole numbers on its scale "
            f"(e.g. {example}); to use it, map it and give values: {{{said}: {{ANSWER: N}}}}"
        )
    if p.is_date:
        return f"dates, like submitted_at{_taken(draft, 'submitted_at')}"
    ids = _id_candidates(p)
    if ids:
        return f"an id, like {ids[0].field}{_taken(draft, ids[0].field)}"
    if _comment_candidate(p):
        return f"free text, like comment{_taken(draft, 'comment')}"
    return f"{p.distinct} distinct values in {p.n}: too many for a segment"


def _segment_name(header: str, taken: dict[str, Profile]) -> str:
    """A snake_case name for --by, clear of report columns and of names already used."""
    name = "_".join(_tokens(header)) or "column"
    if name in RESERVED_SEGMENT_NAMES:
        name = f"{name}_segment"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}_{n}", n + 1
    return unique


# -- writing ---------------------------------------------------------------------------------


def _scalar(value: str) -> str:
    """A one-line YAML scalar: plain when that reads back the same, else double-quoted."""
    dumped = yaml.safe_dump(value, allow_unicode=True, width=float("inf"))
    dumped = dumped.removesuffix("\n...\n").removesuffix("\n")
    if "\n" not in dumped and yaml.safe_load(dumped) == value:
        return dumped
    return _quoted(value)


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar; anything not printable is escaped, so it stays one line."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    return '"' + "".join(out) + '"'


def _show(text: str) -> str:
    """A header or value as it appears in a comment: quoted, on one line."""
    return _quoted(text)


def _show_all(headers: Iterable[str]) -> str:
    return ", ".join(_show(h) for h in headers)


def _comment(indent: int, text: str, lead: str = "# ") -> list[str]:
    pad = " " * indent
    lines = textwrap.wrap(
        text, WRAP - indent - len(lead), break_long_words=False, break_on_hyphens=False
    )
    return [pad + lead + lines[0], *(pad + "#   " + line for line in lines[1:])]


def _render(draft: Draft, path: str, warning: str | None = None) -> str:
    check = (
        '# Check the lines marked "# guess:", then run: cxkpi validate'
        if any(draft.guesses.values()) or warning
        else "# No guesses were needed; check the mapping, then run: cxkpi validate"
    )
    lines = [
        f"# Drafted by cxkpi init from {_printable(draft.name)} (judged on its first "
        f"{draft.rows:,} rows).",
        *(_comment(0, f"WARNING: {warning}.") if warning else []),
        check,
        "version: 1",
        "sources:",
        f"  {_scalar(SOURCE_NAME)}:",
        "    kind: responses",
        f"    path: {_scalar(path)}",
    ]
    for key in ("preset", "encoding", "delimiter", "date_format"):
        if getattr(draft, key):
            value = getattr(draft, key)
            lines.append(f"    {key}: {_quoted(value) if key in QUOTED else _scalar(value)}")
    lines += _render_columns(draft)
    lines += _render_segments(draft)
    lines += _render_unmapped(draft)
    lines += _render_kpis(draft)
    return "\n".join(lines) + "\n"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _render_columns(draft: Draft) -> list[str]:
    lines = ["    columns:"] if draft.columns else ["    columns: {}"]
    order = [f for f in SOURCE_KINDS["responses"] if f in draft.columns]
    for name in order:
        for why in draft.guesses.get(name, []):
            lines += _comment(6, why, "# guess: ")
        lines.append(f"      {name}: {_scalar(draft.columns[name].header)}")
    if "response_id" in draft.columns:
        lines.append("    # dedupe: response_id   (drop repeated responses)")
    if draft.values:
        lines.append("    values:")
        for name, labels in draft.values.items():
            lines.append(f"      {name}:")
            lines += [f"        {_scalar(label)}: {number}" for label, number in labels.items()]
    if draft.scales:
        scales = ", ".join(f"{name}: [{low}, {high}]" for name, (low, high) in draft.scales.items())
        lines.append(f"    scales: {{{scales}}}")
    return lines


def _render_segments(draft: Draft) -> list[str]:
    if not draft.segments:
        return ["    segments: {}  # none found: add NAME: COLUMN for each column to group by"]
    lines = ["    segments:"]
    for name, profile in draft.segments.items():
        lines.append(f"      {_scalar(name)}: {_scalar(profile.header)}")
    return lines


def _render_unmapped(draft: Draft) -> list[str]:
    if not draft.unmapped:
        return []
    found = [draft.unmapped[i] for i in sorted(draft.unmapped)]
    lines = _comment(4, "unmapped columns: " + _show_all(header for header, _ in found))
    for header, reason in found:
        lines += _comment(4, f"{_show(header)}: {reason}", "#   ")
    return lines


def _render_kpis(draft: Draft) -> list[str]:
    found = [f for f in SCORE_FIELDS if f in draft.columns]
    if found:
        lines = ["kpis:", *(f"  - {name}" for name in found)]
    else:
        lines = [
            "# no NPS/CSAT/CES column was recognised: map one under sources.surveys.columns",
            "# (nps: 0-10, csat: 1-5, ces: 1-7), then list its KPI here.",
            "kpis: []  # add nps, csat or ces once its column is mapped",
        ]
    lines.append("report:")
    if "submitted_at" in draft.columns:
        lines.append("  period: month")
    else:
        lines.append("  period: none  # no date column recognised: map submitted_at, then month")
    return lines
