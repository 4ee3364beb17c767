"""Morgan access-log formats compiled once into two parsers that agree.

A format is any morgan format string pasted as is from the app (``:remote-addr - ...``) or
one of morgan's predefined names (``combined``, ``common``, ``dev``, ``short``, ``tiny``,
plus ``combined_rt`` = combined + `` :response-time ms``). :func:`compile_format` turns it into
a :class:`MorganFormat` with

- :meth:`MorganFormat.parse_line` - the exact parser (one line: a regex, or for long lines
  an equivalent linear-time matcher), and
- :meth:`MorganFormat.sql_fields` - a vectorised DuckDB parse of a ``line`` column that splits
  on the format's literal quotes and spaces; it handles every line whose free-text fields
  hold no ``"`` (and no space where the format has no quotes around them) and flags the
  rest (``ok = false``) for the exact parser.

Morgan writes token values unescaped (``tokens[name](req, res) || "-"``; see morgan's
``compile``), so a user agent or URL may itself contain ``"``: the exact parser anchors on
the shape of the typed fields (status, dates, numbers) and lets free-text fields take the
rest, the earlier field taking the shortest text. ``-`` means "no value" for every token.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PREDEFINED_FORMATS",
    "REQUEST_COLUMNS",
    "FormatError",
    "MorganFormat",
    "Token",
    "compile_format",
]

PREDEFINED_FORMATS: dict[str, str] = {
    "combined": ':remote-addr - :remote-user [:date[clf]] ":method :url HTTP/:http-version" :status '
    ':res[content-length] ":referrer" ":user-agent"',
    "common": ':remote-addr - :remote-user [:date[clf]] ":method :url HTTP/:http-version" :status :res[content-length]',
    "default": ':remote-addr - :remote-user [:date] ":method :url HTTP/:http-version" :status :res[content-length] '
    '":referrer" ":user-agent"',
    "short": ":remote-addr :remote-user :method :url HTTP/:http-version :status :res[content-length] - :response-time ms",
    "tiny": ":method :url :status :res[content-length] - :response-time ms",
    # morgan's dev format colours the status (31/33/36/32/0); see _ANSI below.
    "dev": "\x1b[0m:method :url \x1b[32m:status\x1b[0m :response-time ms - :res[content-length]\x1b[0m",
}
PREDEFINED_FORMATS["combined_rt"] = PREDEFINED_FORMATS["combined"] + " :response-time ms"

# Columns a format can fill (the `requests` table minus ts/host/path/source_file bookkeeping).
REQUEST_COLUMNS = (
    "ts",
    "remote_addr",
    "remote_user",
    "method",
    "url",
    "http_version",
    "status",
    "bytes",
    "referrer",
    "user_agent",
    "response_time_ms",
    "total_time_ms",
)

# morgan's own token syntax: `:name` or `:name[arg]` (compile() in morgan/index.js)
_TOKEN = re.compile(r":([-\w]{2,})(?:\[([^\]]+)\])?", re.ASCII)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}
_NUMBER = r"[0-9]{1,15}(?:\.[0-9]{1,15})?"

# Python regex of a token's value, by kind. Free text is lazy: the earlier field takes the
# shortest text, so a quote inside a later user agent stays in the user agent.
_SHAPES = {
    "clf": r"[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}",
    "iso": r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})",
    "web": r"[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
    "status": r"[0-9]{3}|-",
    "int": r"[0-9]{1,18}|-",  # fits BIGINT
    "number": _NUMBER + r"|-",
    "version": r"[0-9]{1,9}\.[0-9]{1,9}|-",
    "word": r"[^ \"]+",
    "free": r".*?",
}
# Longest value of each bounded shape (the exact parser tries at most this many lengths).
_MAX_WIDTH = {"clf": 26, "iso": 35, "web": 29, "status": 3, "int": 18, "number": 31, "version": 19}
_SHAPE_RE = {shape: re.compile(pattern, re.DOTALL) for shape, pattern in _SHAPES.items()}
# Up to this length the exact parser runs the compiled regex (fast on real lines; at most
# about a millisecond on a hostile one); longer lines go to _match_pieces, which agrees with the
# regex and takes linear time where backtracking would take minutes.
_REGEX_CHARS = 512
# strptime formats (DuckDB) of the dates; literal text around them is added at compile time.
_SQL_DATE = {"clf": "%d/%b/%Y:%H:%M:%S %z", "web": "%a, %d %b %Y %H:%M:%S GMT"}
_DATE_SPACES = {"clf": 1, "iso": 0, "web": 5}
_DATE_WIDTH = {"clf": len("10/Oct/2000:13:55:36 -0700"), "web": len("Tue, 10 Oct 2000 13:55:36 GMT")}


class FormatError(ValueError):
    """A format string that cannot be compiled (unknown date style, no tokens...)."""


@dataclass(frozen=True)
class Token:
    """One ``:name[arg]`` of a format, with the column it fills (None: parsed, not stored)."""

    name: str
    arg: str | None
    column: str | None
    shape: str  # key of _SHAPES

    @property
    def text(self) -> str:
        return f":{self.name}[{self.arg}]" if self.arg else f":{self.name}"

    @property
    def spaces(self) -> int | None:
        """Spaces inside the value when fixed (dates); 0 assumed for other non-free shapes."""
        if self.shape in _DATE_SPACES:
            return _DATE_SPACES[self.shape]
        return 0


def _token(name: str, arg: str | None) -> Token:
    if name == "date":
        style = arg or "web"  # morgan's default
        if style not in _DATE_SPACES:
            raise FormatError(f":date[{style}] is not supported (use clf, iso or web)")
        return Token(name, arg, "ts", style)
    if name in ("response-time", "total-time"):
        if arg is not None and not arg.isdigit():
            raise FormatError(f":{name}[{arg}]: digits must be a number")
        return Token(name, arg, "response_time_ms" if name == "response-time" else "total_time_ms", "number")
    simple = {
        "method": ("method", "word"),
        "url": ("url", "free"),
        "http-version": ("http_version", "version"),
        "status": ("status", "status"),
        "remote-addr": ("remote_addr", "word"),
        "remote-user": ("remote_user", "free"),
        "referrer": ("referrer", "free"),
        "user-agent": ("user_agent", "free"),
    }
    if name in simple:
        column, shape = simple[name]
        return Token(name, arg, column, shape)
    header = (arg or "").lower()
    if name == "res" and header == "content-length":
        return Token(name, arg, "bytes", "int")
    if name == "req" and header == "user-agent":
        return Token(name, arg, "user_agent", "free")
    if name == "req" and header in ("referer", "referrer"):
        return Token(name, arg, "referrer", "free")
    # other headers and the app's own tokens (morgan.token('id', ...)): parsed, not stored
    return Token(name, arg, None, "free")


def _pieces(fmt: str) -> list[str | Token]:
    pieces: list[str | Token] = []
    pos = 0
    for match in _TOKEN.finditer(fmt):
        if match.start() > pos:
            pieces.append(fmt[pos : match.start()])
        pieces.append(_token(match.group(1), match.group(2)))
        pos = match.end()
    if pos < len(fmt):
        pieces.append(fmt[pos:])
    return pieces


def _literal_regex(text: str) -> str:
    return re.escape(text)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _parse_clf(value: str) -> dt.datetime:
    day, mon, rest = value.split("/", 2)
    year, hh, mm, ss_tz = rest.split(":", 3)
    ss, tz = ss_tz.split(" ")
    sign = -1 if tz[0] == "-" else 1
    offset = dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
    local = dt.datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=dt.timezone(offset))
    return local.astimezone(dt.UTC)


def _parse_web(value: str) -> dt.datetime:
    _, day, mon, year, clock, _ = value.split(" ")
    hh, mm, ss = clock.split(":")
    return dt.datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=dt.UTC)


def _parse_iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


_DATE_PARSERS = {"clf": _parse_clf, "web": _parse_web, "iso": _parse_iso}


def _convert(token: Token, value: str) -> Any:
    """Python value of one captured token text (None for morgan's '-')."""
    if value == "-":
        return None
    if token.shape in _DATE_PARSERS:
        return _DATE_PARSERS[token.shape](value)
    if token.shape in ("status", "int"):
        return int(value)
    if token.shape == "number":
        return float(value)
    return value


class _Ends:
    """Positions ``p`` of a line from which the remaining pieces match: every ``p <= upto``
    (after a free-text piece, which may take any text) or the positions in ``at``."""

    __slots__ = ("at", "upto")

    def __init__(self, at: set[int] | None = None, upto: int = -1) -> None:
        self.at = at
        self.upto = upto

    def __contains__(self, pos: int) -> bool:
        return pos <= self.upto if self.at is None else pos in self.at

    def empty(self) -> bool:
        return self.upto < 0 if self.at is None else not self.at

    def last(self) -> int:
        return self.upto if self.at is None else max(self.at)

    def first_from(self, pos: int) -> int | None:
        if self.at is None:
            return pos if pos <= self.upto else None
        later = [q for q in self.at if q >= pos]
        return min(later) if later else None


def _shape_starts(shape: str, line: str, ends: _Ends) -> set[int]:
    """Starts ``p`` with ``line[p:q]`` of ``shape`` for some ``q`` in ``ends``."""
    starts: set[int] = set()
    pattern = _SHAPE_RE[shape]
    if ends.at is None:  # followed by free text: any end up to `upto` will do
        for p in range(ends.upto + 1):
            if shape == "word":
                if p < ends.upto and line[p] not in ' "':
                    starts.add(p)
            elif pattern.match(line, p, min(len(line), ends.upto)) is not None:
                starts.add(p)  # (a shape's prefix match is itself a whole match of it)
        return starts
    for q in ends.at:
        if shape == "word":
            p = q
            while p > 0 and line[p - 1] not in ' "':
                p -= 1
                starts.add(p)
            continue
        for p in range(max(0, q - _MAX_WIDTH[shape]), q):
            if pattern.fullmatch(line, p, q) is not None:
                starts.add(p)
    return starts


def _match_pieces(pieces: Sequence[str | Token], line: str) -> list[str] | None:
    """The token values of ``line`` (None when it does not match), as the regex
    ``^(piece)(piece)...$`` would capture them - free text lazy (earliest field shortest),
    every other shape greedy - but in time linear in the line instead of exponential:
    a right-to-left pass finds from where each suffix of the pieces can match, and a
    left-to-right pass takes, at each piece, the regex's first choice that still leads to a
    match (memoised backtracking)."""
    n = len(line)
    ends = [_Ends()] * len(pieces) + [_Ends({n})]
    for i in range(len(pieces) - 1, -1, -1):
        piece, after = pieces[i], ends[i + 1]
        if after.empty():
            return None
        if isinstance(piece, str):
            width = len(piece)
            if after.at is not None:
                ends[i] = _Ends({q - width for q in after.at if q >= width and line.startswith(piece, q - width)})
            else:
                found, pos = set(), line.find(piece, 0, after.upto)
                while pos != -1:
                    found.add(pos)
                    pos = line.find(piece, pos + 1, after.upto)
                ends[i] = _Ends(found)
        elif piece.shape == "free":
            ends[i] = _Ends(upto=after.last())
        else:
            ends[i] = _Ends(_shape_starts(piece.shape, line, after))
    if 0 not in ends[0]:
        return None
    values: list[str] = []
    pos = 0
    for i, piece in enumerate(pieces):
        after = ends[i + 1]
        if isinstance(piece, str):
            pos += len(piece)
            continue
        if piece.shape == "free":  # lazy: the shortest text
            end = after.first_from(pos)
        elif piece.shape == "word":  # greedy: the longest run free of spaces and quotes
            stop = min((x for x in (line.find(" ", pos), line.find('"', pos)) if x != -1), default=n)
            end = next((q for q in range(stop, pos, -1) if q in after), None)
        else:  # greedy: the longest value of the shape
            pattern = _SHAPE_RE[piece.shape]
            widest = min(n, pos + _MAX_WIDTH[piece.shape])
            end = next(
                (q for q in range(widest, pos, -1) if q in after and pattern.fullmatch(line, pos, q) is not None),
                None,
            )
        if end is None:  # cannot happen: ends[i] held pos
            return None
        values.append(line[pos:end])
        pos = end
    return values


@dataclass(frozen=True)
class MorganFormat:
    """A compiled morgan format: exact Python parser + vectorised DuckDB parser."""

    source: str
    name: str | None
    pieces: tuple[str | Token, ...]
    regex: re.Pattern[str] = field(repr=False)
    strip_ansi: bool = False

    @property
    def tokens(self) -> list[Token]:
        return [p for p in self.pieces if isinstance(p, Token)]

    @property
    def columns(self) -> list[str]:
        """The request columns this format fills (first token wins when two fill one)."""
        seen: list[str] = []
        for token in self.tokens:
            if token.column and token.column not in seen:
                seen.append(token.column)
        return seen

    @property
    def has_date(self) -> bool:
        return "ts" in self.columns

    @property
    def has_response_time(self) -> bool:
        return "response_time_ms" in self.columns

    # -- exact parser -------------------------------------------------------------------
    def parse_line(self, line: str) -> dict[str, Any] | None:
        """Columns of one log line (all of REQUEST_COLUMNS; absent ones None), or None."""
        line = line.rstrip("\r\n")
        if self.strip_ansi:
            line = _ANSI.sub("", line)
        if len(line) <= _REGEX_CHARS:
            match = self.regex.match(line)
            values = None if match is None else [match.group(f"t{i}") for i in range(len(self.tokens))]
        else:
            values = _match_pieces(self.pieces, line)
        if values is None:
            return None
        row: dict[str, Any] = dict.fromkeys(REQUEST_COLUMNS)
        filled: set[str] = set()
        try:
            for token, value in zip(self.tokens, values, strict=True):
                if token.column is None or token.column in filled:
                    continue
                filled.add(token.column)
                row[token.column] = _convert(token, value)
        except (ValueError, KeyError, OverflowError):
            return None  # e.g. 31/Feb or month "Foo": shaped like a date, is not one
        return row

    # -- fast path ------------------------------------------------------------------------
    def sql_fields(self, line: str = "line") -> tuple[list[str], dict[str, str], str]:
        """DuckDB pieces of the vectorised parse of column ``line``.

        Returns ``(lets, columns, ok)``: ``lets`` are ``expr AS name`` helper columns to
        compute in order (each in its own SELECT level, so each split runs once), then
        ``columns`` maps every REQUEST_COLUMNS name to an expression (NULL when the format
        lacks it) and ``ok`` is true where the expressions are trustworthy.
        """
        return _SqlPlan(self, line).build()

    def sql_query(self, source: str, line: str = "line", keep: Sequence[str] = ()) -> str:
        """A SELECT over ``source`` (a table or subquery with column ``line``) giving ``keep``
        columns, ``line``, every REQUEST_COLUMNS column and ``ok`` (see :meth:`sql_fields`).

        Run it with filter pushdown disabled when filtering on ``ok`` (DuckDB would otherwise
        evaluate the splits twice, once for the filter and once for the columns).
        """
        clean = "_clean" if self.strip_ansi else line
        lets, columns, ok = self.sql_fields(clean)
        carried = "".join(f"{c}, " for c in keep)
        inner = f"SELECT {carried}{line}, {lets[0]} FROM {source}"
        if self.strip_ansi:
            ansi = _sql_str(_ANSI.pattern)
            source = f"(SELECT *, regexp_replace({line}, {ansi}, '', 'g') AS _clean FROM {source})"
            inner = f"SELECT {carried}{line}, _clean, {lets[0]} FROM {source}"
        if len(lets) > 1:
            inner = f"SELECT *, {', '.join(lets[1:])} FROM ({inner})"
        values = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
        return f"SELECT {carried}{line}, {values}, {ok} AS ok FROM ({inner})"


class _SqlPlan:
    """Compiles a format into string_split-based DuckDB expressions (see sql_fields).

    A line is trusted (``ok``) when its splits have exactly the format's number of pieces -
    so no free-text value holds a quote, nor a space where the value is split on spaces -,
    its literal pieces are equal to the format's, and each typed value (status, numbers,
    version, date) fully matches its shape: short RE2 matches on short strings, far cheaper
    than one regex over the whole line.
    """

    def __init__(self, fmt: MorganFormat, line: str) -> None:
        self.fmt = fmt
        self.line = line
        self.lets: list[str] = []
        self.checks: list[str] = []
        self.values: dict[str, str] = {}
        self.token_index = {id(t): i for i, t in enumerate(fmt.tokens)}

    def build(self) -> tuple[list[str], dict[str, str], str]:
        segments = self._segments()
        self.lets.append(f"string_split({self.line}, '\"') AS _q")
        self.checks.append(f"len(_q) = {len(segments)}")
        for i, segment in enumerate(segments, 1):
            self._segment(f"_q[{i}]", segment, f"_s{i}")
        columns: dict[str, str] = {}
        for token in self.fmt.tokens:
            if token.column and token.column not in columns:
                columns[token.column] = self.values[f"t{self.token_index[id(token)]}"]
        out = {c: columns.get(c, "NULL") for c in REQUEST_COLUMNS}
        out["ts"] = out["ts"] if "ts" in columns else "NULL::TIMESTAMPTZ"
        for numeric in ("status", "bytes", "response_time_ms", "total_time_ms"):
            if numeric not in columns:
                out[numeric] = {"status": "NULL::SMALLINT", "bytes": "NULL::BIGINT"}.get(numeric, "NULL::DOUBLE")
        return self.lets, out, "coalesce(" + " AND ".join(self.checks) + ", false)"

    def _segments(self) -> list[list[str | Token]]:
        segments: list[list[str | Token]] = [[]]
        for piece in self.fmt.pieces:
            if isinstance(piece, Token):
                segments[-1].append(piece)
                continue
            parts = piece.split('"')
            for j, part in enumerate(parts):
                if j:
                    segments.append([])
                if part:
                    segments[-1].append(part)
        return segments

    def _strict_shape(self, token: Token, whole_segment: bool) -> str:
        if token.shape == "free":
            return '[^"]*' if whole_segment else '[^" ]*'
        return _SHAPES[token.shape]

    def _segment(self, expr: str, pieces: list[str | Token], alias: str) -> None:
        """Values of one quote-delimited segment, split further on literal spaces."""
        if all(isinstance(p, str) for p in pieces):
            self.checks.append(f"{expr} = {_sql_str(''.join(p for p in pieces if isinstance(p, str)))}")
            return
        if len(pieces) == 1:  # one token fills the whole segment: no further split needed
            token = pieces[0]
            assert isinstance(token, Token)
            self._token_value(token, expr)
            return
        groups: list[list[str | Token]] = [[]]
        for piece in pieces:
            if isinstance(piece, Token):
                groups[-1].append(piece)
                continue
            for j, part in enumerate(piece.split(" ")):
                if j:
                    groups.append([])
                if part:
                    groups[-1].append(part)
        widths = [1 + sum(t.spaces or 0 for t in g if isinstance(t, Token)) for g in groups]
        self.lets.append(f"string_split({expr}, ' ') AS {alias}")
        self.checks.append(f"len({alias}) = {sum(widths)}")
        start = 1
        for group, width in zip(groups, widths, strict=True):
            elements = [f"{alias}[{k}]" for k in range(start, start + width)]
            text = elements[0] if width == 1 else " || ' ' || ".join(elements)
            self._group(text, group)
            start += width

    def _group(self, expr: str, group: list[str | Token]) -> None:
        tokens = [p for p in group if isinstance(p, Token)]
        if not tokens:
            self.checks.append(f"{expr} = {_sql_str(''.join(p for p in group if isinstance(p, str)))}")
            return
        if len(tokens) > 1:  # tokens glued together (`:status/:method`): regex on this short piece
            self._regex_group(expr, group)
            return
        token = tokens[0]
        at = group.index(token)
        prefix = "".join(p for p in group[:at] if isinstance(p, str))
        suffix = "".join(p for p in group[at + 1 :] if isinstance(p, str))
        if token.shape in _SQL_DATE:  # strptime takes the literal text around the date itself
            fmt = prefix.replace("%", "%%") + _SQL_DATE[token.shape] + suffix.replace("%", "%%")
            # The date's fixed width plus a successful strptime stand in for the shape regex
            # (a regex over the date is the costliest check of a combined line).
            self.checks.append(f"length({expr}) = {len(prefix) + _DATE_WIDTH[token.shape] + len(suffix)}")
            self._date_value(token, expr, fmt)
            return
        inner = expr
        if prefix or suffix:
            checks = [f"starts_with({expr}, {_sql_str(prefix)})"] if prefix else []
            checks += [f"ends_with({expr}, {_sql_str(suffix)})"] if suffix else []
            self.checks.append(" AND ".join([*checks, f"length({expr}) >= {len(prefix) + len(suffix)}"]))
            inner = f"{expr}[{len(prefix) + 1}:{-len(suffix) - 1 if suffix else -1}]"
        self._token_value(token, inner)

    def _regex_group(self, expr: str, group: list[str | Token]) -> None:
        pattern, names = "", []
        for piece in group:
            if isinstance(piece, Token):
                pattern += f"({self._strict_shape(piece, whole_segment=False)})"
                names.append(f"t{self.token_index[id(piece)]}")
            else:
                pattern += _literal_regex(piece)
        struct = f"regexp_extract({expr}, {_sql_str('^' + pattern + '$')}, [{', '.join(map(_sql_str, names))}])"
        self.checks.append(f"regexp_full_match({expr}, {_sql_str(pattern)})")
        for piece in group:
            if isinstance(piece, Token):
                self._token_value(piece, f"{struct}.t{self.token_index[id(piece)]}")

    def _date_value(self, token: Token, expr: str, fmt: str) -> None:
        name = f"t{self.token_index[id(token)]}"
        value = f"try_strptime({expr}, {_sql_str(fmt)})"
        if token.shape == "web":  # GMT: strptime gives a naive timestamp
            value = f"timezone('UTC', {value})"
        self.values[name] = value
        self.checks.append(f"{value} IS NOT NULL")  # the shape may match where the calendar does not

    def _token_value(self, token: Token, expr: str) -> None:
        name = f"t{self.token_index[id(token)]}"
        if token.shape in _SQL_DATE:
            self._date_value(token, expr, _SQL_DATE[token.shape])
            return
        if token.shape == "iso":
            value = f"try_cast({expr} AS TIMESTAMPTZ)"
            self.values[name] = value
            self.checks.append(f"regexp_full_match({expr}, {_sql_str(_SHAPES['iso'])})")
            self.checks.append(f"{value} IS NOT NULL")
            return
        if token.shape in ("status", "int", "number", "version"):
            self.checks.append(f"regexp_full_match({expr}, {_sql_str(_SHAPES[token.shape])})")
            if token.shape != "version":
                sql_type = {"status": "SMALLINT", "int": "BIGINT", "number": "DOUBLE"}[token.shape]
                self.values[name] = f"CASE WHEN {expr} = '-' THEN NULL ELSE try_cast({expr} AS {sql_type}) END"
                return
        elif token.shape == "word":
            self.checks.append(f"{expr} <> ''")
        self.values[name] = f"nullif({expr}, '-')"


def compile_format(fmt: str) -> MorganFormat:
    """Compile a predefined name or a morgan format string (raises FormatError)."""
    name = fmt if fmt in PREDEFINED_FORMATS else None
    source = PREDEFINED_FORMATS.get(fmt, fmt)
    if not source.strip():
        raise FormatError("empty format string")
    strip_ansi = bool(_ANSI.search(source))
    # morgan's dev format colours the status; colour codes (any, or none) are removed from
    # the line before parsing, so the format is compiled without them.
    pieces = _pieces(_ANSI.sub("", source))
    tokens = [p for p in pieces if isinstance(p, Token)]
    if not tokens:
        raise FormatError(f"no morgan tokens in format {fmt!r} (expected e.g. ':method :url :status')")
    pattern, index = [], 0
    for piece in pieces:
        if isinstance(piece, Token):
            pattern.append(f"(?P<t{index}>{_SHAPES[piece.shape]})")
            index += 1
        else:
            pattern.append(_literal_regex(piece))
    regex = re.compile("^" + "".join(pattern) + "$", re.DOTALL)
    return MorganFormat(source=source, name=name, pieces=tuple(pieces), regex=regex, strip_ansi=strip_ansi)


def describe_formats() -> Sequence[str]:
    """Names accepted by compile_format besides a format string (for help texts)."""
    return sorted(PREDEFINED_FORMATS)
