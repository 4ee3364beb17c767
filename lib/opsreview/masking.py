"""Secrets and card numbers that leak into logged URLs: find them, and mask them everywhere.

Clients that put a JWT or an API key in the query string (``?access_token=eyJ...``) make
every access log, proxy log and analytics tool a credential store. This module finds such
requests with DuckDB (vectorised: a cheap regex prefilter, then exact checks on the few
candidates, Luhn included) and masks the values - in SQL for tables (:func:`mask_sensitive_sql`)
and in Python for single strings (:func:`mask_sensitive`). The patterns are written once in
the subset RE2 (DuckDB) and Python share.

Kinds: ``jwt`` (three base64url parts, header ``eyJ``), ``api key`` (``sk_live_``-style,
``whsec_``, AWS ``AKIA``, GitHub ``ghp_``, Slack ``xox?-``, Google ``AIza``), ``card number``
(13-19 digits, optionally grouped by dashes, spaces, ``+`` or ``%20``, starting as a card of that length does (issuer prefixes),
Luhn-valid, not part of a longer token), ``credential parameter`` (``password=``, ``token=``, ``api_key=``, ... with a value).
When text is shown (not searched), the same credential names are masked in free-text and JSON
form too (``password: x``, ``"token": "x"``) and so are bearer tokens, and so are query
parameters that carry a credential by design (``?key=``, signed-URL signatures, OAuth's
``?code=``: masked, not reported). Card numbers keep their last four digits (``***1111``), in
Python and in SQL alike: at most what PCI DSS 3.4.1 allows.

At rest: :func:`mask_for_rest` masks an Arrow table before the store writes it (see the
section below), so that no secret sits in clear text in the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opsreview.relations import run_sql, sql_string
from opsreview.secrets import redact, resolved_values

__all__ = [
    "AtRest",
    "luhn_valid",
    "mask_at_rest",
    "mask_for_rest",
    "mask_sensitive",
    "mask_sensitive_sql",
    "mask_table",
    "masked",
    "masked_with_secrets",
    "sensitive_in_urls",
    "url_secret_kind",
]

# A secret found in one field of an event: the value as written, and what replaces it.
Found = list[tuple[str, str]]

JWT = r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
API_KEY = r"(?:(?:sk|rk|pk)_(?:live|test)_|whsec_|gh[pousr]_|xox[abprs]-)[0-9A-Za-z_-]{8,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}"
_API_KEY_PREFIX = r"((?:sk|rk|pk)_(?:live|test)_|whsec_|gh[pousr]_|xox[abprs]-|AKIA|AIza)[0-9A-Za-z_-]{8,}"
CREDENTIAL_NAMES = (
    "password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|id_token|auth|authorization"
    "|api_key|apikey|api-key|access_key|private_key|session|sessionid|session_id|jwt|credentials"
)
CREDENTIAL_PARAM = rf"(?i)([?&;](?:{CREDENTIAL_NAMES}))=([^&#;\s]+)"
# Query parameters that carry a credential by design, masked but not reported: an API key some
# services take in URLs (`?key=`), signed-URL signatures (`X-Amz-Signature`, `X-Goog-Signature`,
# CloudFront's `Signature`, Azure's `sig`) and OAuth's authorization `code`.
URL_CREDENTIAL_PARAM = r"(?i)([?&;](?:(?:[A-Za-z0-9]+[_-])*(?:key|signature)|code|sig))=([^&#;\s]+)"
# The same names in free text (log messages, stacks): `password=x`, `api_key: x`, a JSON
# key `"token": "x"`, and bearer tokens. Masked wherever text is shown (not searched in URLs:
# there the query-string form above is the finding).
# Names may carry a prefix (DB_PASSWORD, stripe_api_key); values may be quoted (logfmt,
# util.inspect's `{ password: 'x' }`) or bare; Authorization's Basic/Digest credentials too.
_PREFIXED = rf"(?:[A-Za-z0-9]+[_-])*(?:{CREDENTIAL_NAMES})"
CREDENTIAL_JSON = rf'(?i)("{_PREFIXED}"\s*:\s*)(?:"[^"]*"|[^,}}\]\s]+)'
CREDENTIAL_TEXT = rf"""(?i)\b({_PREFIXED}\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s"',;&}}]+)"""
BEARER = r"(?i)((?:bearer|basic|digest)\s+)[A-Za-z0-9._~+/=-]{8,}"
# Incoming-webhook URLs are credentials in their path (Slack, Teams, Discord): the path goes.
WEBHOOK_URL = (
    r"((?:https?://)?(?:hooks\.slack\.com/(?:services|workflows|triggers)|[A-Za-z0-9.-]*webhook\.office\.com/webhookb2"
    r"|(?:discord|discordapp)\.com/api/webhooks)/)[A-Za-z0-9_@./+=-]+"
)
# A card-number candidate: 13-19 digits, plain or grouped as cards print them (fours, or
# Amex 4-6-5) by a dash, space, `+` or `%20` (as forms and URL encoders write the space), not
# glued to other letters or digits, so that ObjectIds, hashes, long ids and dates do not match.
_CARD_SEP = r"(?:[ +-]|%20)"
_CARD_DIGITS = (
    rf"[2-6][0-9]{{12,18}}|[2-6][0-9]{{3}}(?:{_CARD_SEP}[0-9]{{4}}){{2,3}}(?:{_CARD_SEP}?[0-9]{{1,3}})?"
    rf"|3[0-9]{{3}}{_CARD_SEP}[0-9]{{6}}{_CARD_SEP}[0-9]{{5}}"
)
# A percent-escape (`%22` for a quote, `%3D` for `=`) before it is a boundary too: it comes
# first, so that its hex digits are not read as the start of the number.
CARD = rf"(^|%[0-9A-Fa-f]{{2}}|[^0-9A-Za-z_-])({_CARD_DIGITS})($|[^0-9A-Za-z_-])"
# The same numbers for SQL masking, with the last four digits in a group of their own (RE2
# replaces an alternative's unmatched groups with nothing): `\1***\2\3\4\5` keeps them, as
# Python does. A grouped number with an odd tail (`4111 1111 1111 1111 123`) keeps none.
_CARD_LAST_FOUR = (
    rf"[2-6][0-9]{{8,14}}([0-9]{{4}})"
    rf"|[2-6][0-9]{{3}}(?:{_CARD_SEP}[0-9]{{4}}){{2,3}}{_CARD_SEP}?[0-9]{{1,3}}"
    rf"|[2-6][0-9]{{3}}(?:{_CARD_SEP}[0-9]{{4}}){{1,2}}{_CARD_SEP}([0-9]{{4}})"
    rf"|3[0-9]{{3}}{_CARD_SEP}[0-9]{{6}}{_CARD_SEP}[0-9]([0-9]{{4}})"
)
_CARD_SQL = rf"(^|%[0-9A-Fa-f]{{2}}|[^0-9A-Za-z_-])(?:{_CARD_LAST_FOUR})($|[^0-9A-Za-z_-])"
_NOT_DIGITS = r"%20|[^0-9]"
# A card number where one can be (not inside an ObjectId or a hash, which would otherwise make
# most URLs of an API candidates).
_CARD_CANDIDATE = rf"(?:^|%[0-9A-Fa-f]{{2}}|[^0-9A-Za-z_-])(?:{_CARD_DIGITS})(?:$|[^0-9A-Za-z_-])"
PREFILTER = (
    rf"eyJ|_live_|_test_|whsec_|gh[pousr]_|xox[abprs]-|AKIA|AIza|(?i:[?&;](?:{CREDENTIAL_NAMES})=)|{_CARD_CANDIDATE}"
)
MASK = "***"


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a digit string (the check every payment card number passes)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def _luhn_sql(digits: str) -> str:
    """DuckDB expression: whether the digit string ``digits`` (an SQL expression) is Luhn-valid."""
    d = f"CAST(substr(reverse({digits}), i + 1, 1) AS INTEGER)"
    return (
        f"(list_sum(list_transform(range(length({digits})), "
        f"lambda i: CASE WHEN i % 2 = 1 THEN (CASE WHEN 2 * {d} > 9 THEN 2 * {d} - 9 ELSE 2 * {d} END) ELSE {d} END"
        f")) % 10 = 0)"
    )


# Issuer prefixes by length (Visa, Mastercard incl. 2221-2720, Amex, Diners, Discover, JCB,
# UnionPay, Maestro): a Luhn-valid run of digits is a card number only where a card of that
# length can start so. Dates and ids pass Luhn one time in ten (`20260310123456`), cards don't
# start with 20.
_CARD_PREFIXES = {
    13: r"4",
    14: r"3[0689]",
    15: r"3[47]",
    16: r"4|5[1-5]|2(?:2[2-9][1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)|6(?:011|5|4[4-9]|2)|35(?:2[89]|[3-8][0-9])",
    17: r"4|5|6",
    18: r"4|5|6",
    19: r"4|5|6|35|62",
}


def card_issuer_plausible(digits: str) -> bool:
    """Whether a 13-19 digit string starts as a card of its length can."""
    prefix = _CARD_PREFIXES.get(len(digits))
    return prefix is not None and re.match(f"(?:{prefix})", digits) is not None


def _issuer_sql(digits: str) -> str:
    cases = " ".join(
        f"WHEN {n} THEN regexp_matches({digits}, {sql_string('^(?:' + p + ')')})" for n, p in _CARD_PREFIXES.items()
    )
    return f"(CASE length({digits}) {cases} ELSE false END)"


def _card_numbers_sql(column: str) -> str:
    """DuckDB expression: the list of Luhn-valid card numbers (digits only) in ``column``."""
    digits = f"regexp_replace(m, {sql_string(_NOT_DIGITS)}, '', 'g')"
    return (
        f"list_filter(list_transform(regexp_extract_all({column}, {sql_string(CARD)}, 2), lambda m: {digits}), "
        f"lambda m: length(m) BETWEEN 13 AND 19 AND {_issuer_sql('m')} AND {_luhn_sql('m')})"
    )


_PY_JWT = re.compile(JWT)
_PY_API_KEY = re.compile(API_KEY)
_PY_KEY = re.compile(_API_KEY_PREFIX)
_PY_PARAM = re.compile(CREDENTIAL_PARAM)
_PY_URL_PARAM = re.compile(URL_CREDENTIAL_PARAM)
_PY_CARD = re.compile(CARD)
_PY_PREFILTER = re.compile(PREFILTER)
# Bearer first: `Authorization: Bearer x` would otherwise lose only "Bearer".
_PY_BEARER = re.compile(BEARER)
_PY_WEBHOOK = re.compile(WEBHOOK_URL)
_WEBHOOK_HOSTS = ("hooks.slack.com/", "webhook.office.com/", "/api/webhooks/")
_PY_JSON = re.compile(CREDENTIAL_JSON)
_PY_TEXT = re.compile(CREDENTIAL_TEXT)
_PY_SCHEMES = re.compile(r"(?i)bearer|basic|digest")
_PY_FOUR_DIGITS = re.compile(r"[0-9]{4}")
_KEY_PREFIXES = ("_live_", "_test_", "whsec_", "gh", "xox", "AKIA", "AIza")
# Values that a credential pattern takes but that are no secret worth masking elsewhere.
_NOT_SECRETS = frozenset({"null", "none", "true", "false", "undefined", "bearer", "basic", "digest"})


def _keep(found: Found | None, value: str, replacement: str = MASK) -> None:
    """Remember a secret found, to mask it wherever else it appears in the same event."""
    if found is not None and len(value) >= 4 and MASK not in value and value.lower() not in _NOT_SECRETS:
        found.append((value, replacement))


def _card(found: Found | None) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        digits = re.sub(_NOT_DIGITS, "", match.group(2))
        if not (13 <= len(digits) <= 19 and card_issuer_plausible(digits) and luhn_valid(digits)):
            return match.group(0)
        _keep(found, match.group(2), MASK + digits[-4:])
        _keep(found, digits, MASK + digits[-4:])
        return f"{match.group(1)}{MASK}{digits[-4:]}{match.group(3)}"

    return replace


def mask_sensitive(text: str, found: Found | None = None) -> str:
    """Mask JWTs, API keys, credential parameter values and Luhn-valid card numbers in ``text``.

    With ``found``, each value masked is appended to it with its replacement.
    """

    def whole(replacement: str) -> Callable[[re.Match[str]], str]:
        def replace(match: re.Match[str]) -> str:
            _keep(found, match.group(0))
            return replacement if replacement else match.group(1) + MASK

        return replace

    def param(match: re.Match[str]) -> str:
        if match.group(2).startswith(MASK):  # masked already: kept, with what follows it (a quote)
            return match.group(0)
        _keep(found, match.group(2))
        return f"{match.group(1)}={MASK}"

    def after_name(tail: str) -> Callable[[re.Match[str]], str]:
        def replace(match: re.Match[str]) -> str:
            _keep(found, match.group(0)[len(match.group(1)) :].strip("\"'"))
            return match.group(1) + tail

        return replace

    # Each pattern runs only where what it needs is there (cheap tests: at rest, tokens in
    # every URL of a day are masked one distinct value at a time).
    if "eyJ" in text:
        text = _PY_JWT.sub(whole(f"{MASK}JWT{MASK}"), text)
    if any(prefix in text for prefix in _KEY_PREFIXES):
        text = _PY_KEY.sub(whole(""), text)
    if any(host in text for host in _WEBHOOK_HOSTS):
        text = _PY_WEBHOOK.sub(whole(""), text)
    if "=" in text:
        text = _PY_URL_PARAM.sub(param, _PY_PARAM.sub(param, text))
    if _PY_SCHEMES.search(text):
        text = _PY_BEARER.sub(after_name(MASK), text)
    if '"' in text:
        text = _PY_JSON.sub(after_name(f'"{MASK}"'), text)
    if ":" in text or "=" in text:
        text = _PY_TEXT.sub(after_name(MASK), text)
    if _PY_FOUR_DIGITS.search(text):  # every card shape starts with four digits
        # twice: adjacent numbers share the separator between them
        text = _PY_CARD.sub(_card(found), _PY_CARD.sub(_card(found), text))
    return text


def masked(text: str) -> str:
    """``text`` as it may be shown: resolved secrets (:func:`opsreview.secrets.redact`) and
    everything :func:`mask_sensitive` knows masked."""
    return mask_sensitive(redact(text))


def masked_with_secrets(text: str) -> tuple[str, Found]:
    """:func:`masked` ``text``, and each secret found in it with its replacement (a card's
    keeps its last four digits), to mask the same values elsewhere in the same event."""
    plain: list[str] = []
    text = redact(text, plain)
    found: Found = []
    for value in plain:
        _keep(found, value)
    return mask_sensitive(text, found), found


def url_secret_kind(url: str) -> str | None:
    """The kind of secret a URL carries, as :func:`sensitive_in_urls` classifies it (None: none)."""
    if not _PY_PREFILTER.search(url):
        return None
    if _PY_JWT.search(url):
        return "jwt"
    if _PY_API_KEY.search(url):
        return "api key"
    if any(_card(None)(m) != m.group(0) for m in _PY_CARD.finditer(url)):
        return "card number"
    if _PY_PARAM.search(url):
        return "credential parameter"
    return None


def mask_sensitive_sql(column: str) -> str:
    """A DuckDB expression masking the same things as :func:`mask_sensitive` (cards: any candidate)."""
    expr = f"regexp_replace({column}, {sql_string(JWT)}, '{MASK}JWT{MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(_API_KEY_PREFIX)}, '\\1{MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(WEBHOOK_URL)}, '\\1{MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(CREDENTIAL_PARAM)}, '\\1={MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(URL_CREDENTIAL_PARAM)}, '\\1={MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(BEARER)}, '\\1{MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(CREDENTIAL_JSON)}, '\\1\"{MASK}\"', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(CREDENTIAL_TEXT)}, '\\1{MASK}', 'g')"
    # SQL masks every card-shaped number (no Luhn here): over-masking a displayed id is harmless.
    for _ in range(2):  # twice: adjacent numbers share the separator between them
        expr = f"regexp_replace({expr}, {sql_string(_CARD_SQL)}, '\\1{MASK}\\2\\3\\4\\5', 'g')"
    return expr


def sensitive_in_urls(rel: duckdb.DuckDBPyRelation, max_samples: int = 3) -> pd.DataFrame:
    """Requests whose logged URL carries a secret or a card number, grouped by kind and route.

    ``rel`` is a `requests` relation (a ``route`` column is used when present). Returns one row
    per (kind, route): requests, clients, first, last, and up to ``max_samples`` masked URLs.
    The store keeps URLs masked, with the kind of secret each carried in ``url_secret``
    (:func:`mask_for_rest`): that column is the answer where it is set, the URL where not.
    """
    route = "route" if "route" in rel.columns else "method || ' ' || split_part(path, '?', 1)"
    route = mask_sensitive_sql(route)
    cards = _card_numbers_sql("url")
    known = "url_secret" if "url_secret" in rel.columns else "NULL::VARCHAR"
    sql = f"""
        WITH candidates AS (
            SELECT ts, remote_addr, {route} AS route, url, {known} AS known FROM t
            WHERE url IS NOT NULL AND ({known} IS NOT NULL OR regexp_matches(url, {sql_string(PREFILTER)}))
        ), classified AS (
            SELECT * EXCLUDE (known), CASE
                WHEN known IS NOT NULL THEN known
                WHEN regexp_matches(url, {sql_string(JWT)}) THEN 'jwt'
                WHEN regexp_matches(url, {sql_string(API_KEY)}) THEN 'api key'
                WHEN len({cards}) > 0 THEN 'card number'
                WHEN regexp_matches(url, {sql_string(CREDENTIAL_PARAM)}) THEN 'credential parameter'
            END AS kind
            FROM candidates
        )
        SELECT kind, route, count(*) AS requests, count(DISTINCT remote_addr) AS clients,
               min(ts) AS first, max(ts) AS last,
               list_sort(list(DISTINCT {mask_sensitive_sql("url")}))[1:{int(max_samples)}] AS samples
        FROM classified WHERE kind IS NOT NULL
        GROUP BY kind, route ORDER BY requests DESC, kind, route
    """
    return run_sql(rel, sql)


# -- At rest: masked before the store writes a table -----------------------------------------
#
# Every string column of a table (lists of strings too, or the columns a table registers) is
# masked as :func:`masked` masks text, before anything is written: the regexes run over the
# column's *distinct* values that pass one cheap prefilter (RE2, vectorised by Arrow), and only
# rows whose value changed are rewritten. A secret recognised in one field of a row (an event,
# a request) is then masked in every text field of that row: `failed password=X token X`, or a
# password in `extra` that the message repeats. The parquet footer of every part written so
# carries ``opsreview.masked`` (the store re-masks parts without it).

MASKED_KEY = b"opsreview.masked"
MASKING_VERSION = 2  # bump when masking learns more: the next pull re-masks older parts
# Superset of everything masked_with_secrets() can change (tests check it): names before a
# `:`/`=` (Python's \s is wider than RE2's, hence the class), schemes, key prefixes, URL
# userinfo, card numbers. Resolved ${ENV} values are looked for literally.
_SPACE = r"[\s\x0b\x1c-\x1f\x85\pZ]"
AT_REST_PREFILTER = (
    r"eyJ|(?:sk|rk|pk)_(?:live|test)_|whsec_|gh[pousr]_|xox[abprs]-|AKIA|AIza"
    rf"|(?i:(?:{CREDENTIAL_NAMES})[\"']?{_SPACE}*[:=]|(?:bearer|basic|digest){_SPACE}|(?:key|signature|code|sig)=)"
    r"|://[^/\s:@\"']+:[^/\s@\"']+@|hooks\.slack\.com/|webhook\.office\.com/|/api/webhooks/"
    rf"|{_CARD_CANDIDATE}"
)
# What a field cut at its length limit ends with: a card or token cut in two keeps none of
# its characters (the regexes no longer recognise half a card).
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.~+/=%:-")


@dataclass(frozen=True)
class AtRest:
    """How one table is masked before it is written.

    ``columns``: the text columns to mask (None: every string column, lists of strings too);
    ``cut_at``: column -> the length at which the parser cuts it (a cut value loses its last
    word); ``url_secret``: a URL column whose secret kind (:func:`url_secret_kind`, taken before
    masking) goes into a ``url_secret`` column, so the review can still say what leaked.
    """

    columns: tuple[str, ...] | None = None
    cut_at: Mapping[str, int] = field(default_factory=dict)
    url_secret: str | None = None


_AT_REST: dict[str, AtRest] = {}


def mask_at_rest(table: str, spec: AtRest) -> None:
    """Register how ``table`` is masked at rest (areas call this from their source module)."""
    _AT_REST[table] = spec


def _at_rest(table: str) -> AtRest:
    """The registered masking of ``table``; the areas' source modules register theirs when
    imported, so they are imported first (whoever writes a table need not have done so)."""
    if table not in _AT_REST:
        from opsreview.areas import AREAS

        for area in AREAS:
            area.import_sources()
    return _AT_REST.get(table, AtRest())


def mask_for_rest(table: str, data: pa.Table) -> pa.Table:
    """``data``, a table about to be written as part of ``table``, with every secret masked
    (as registered with :func:`mask_at_rest`; by default every string column) and its schema
    marked ``opsreview.masked``."""
    spec = _at_rest(table)
    classify = (
        spec.url_secret if spec.url_secret in data.column_names and "url_secret" not in data.column_names else None
    )
    data = mask_table(data, spec.columns, spec.cut_at, classify)
    return data.replace_schema_metadata({**(data.schema.metadata or {}), MASKED_KEY: str(MASKING_VERSION).encode()})


def masking_version(metadata: Mapping[bytes, bytes] | None) -> int:
    """The masking version a part was written with (0: written before masking at rest)."""
    value = (metadata or {}).get(MASKED_KEY, b"0")
    return int(value) if value.isdigit() else 0


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def mask_table(
    data: pa.Table,
    columns: Collection[str] | None = None,
    cut_at: Mapping[str, int] | None = None,
    classify: str | None = None,
) -> pa.Table:
    """``data`` with secrets masked in its text ``columns`` (None: all), then each secret found in
    a row masked in every text field of that row; see the section comment. With ``classify``,
    a URL column, a ``url_secret`` column is added: the kind of secret each URL carried."""
    cut_at = cut_at or {}
    names = [f.name for f in data.schema if (columns is None or f.name in columns) and _is_text(f.type)]
    found: dict[int, Found] = {}
    literals = resolved_values()
    urls = data.column(classify) if classify is not None else None
    kinds: dict[str, str] = {}
    for name in names:
        column = data.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            new = _mask_strings(column, literals, cut_at.get(name), found, kinds if name == classify else None)
        else:
            new = _mask_lists(column, found)
        if new is not None:
            data = data.set_column(data.schema.get_field_index(name), name, new)
    if urls is not None:
        data = data.append_column("url_secret", _url_secrets(urls, kinds))
    return _mask_found_elsewhere(data, names, found) if found else data


def _masked_value(value: str, cut: int | None) -> tuple[str, Found]:
    text, found = masked_with_secrets(value)
    if cut is not None and len(value) >= cut:
        end = len(text)
        while end and (text[end - 1] in _WORD_CHARS or (text[end - 1] == " " and text[end - 2 : end - 1].isdigit())):
            end -= 1
        if end < len(text):
            _keep(found, text[end:])
            text = text[:end] + MASK
    return text, found


def _mask_strings(
    column: pa.ChunkedArray,
    literals: list[str],
    cut: int | None,
    found: dict[int, Found],
    kinds: dict[str, str] | None = None,
) -> pa.Array | None:
    """The column masked (None: unchanged); secrets found go into ``found`` by row and, with
    ``kinds``, the secret kind of each candidate URL into it (its candidates include them)."""
    distinct = pc.unique(column).drop_null()
    if not len(distinct):
        return None
    candidate = pc.match_substring_regex(distinct, AT_REST_PREFILTER)
    for literal in literals:
        candidate = pc.or_(candidate, pc.match_substring(distinct, literal))
    if cut is not None:
        candidate = pc.or_(candidate, pc.greater_equal(pc.utf8_length(distinct), cut))
    changes: dict[str, tuple[str, Found]] = {}
    for value in distinct.filter(candidate).to_pylist():
        if kinds is not None and (kind := url_secret_kind(value)) is not None:
            kinds[value] = kind
        text, secrets = _masked_value(value, cut)
        if text != value or secrets:
            changes[value] = (text, secrets)
    if not changes:
        return None
    hit = pc.is_in(column, value_set=pa.array(list(changes), column.type)).combine_chunks()
    rows = pc.indices_nonzero(hit)
    originals = pc.take(column, rows).to_pylist()
    for row, original in zip(rows.to_pylist(), originals, strict=True):
        if changes[original][1]:
            found.setdefault(row, []).extend(changes[original][1])
    replacements = pa.array([changes[o][0] for o in originals], column.type)
    return pc.replace_with_mask(column.combine_chunks(), hit, replacements)


def _mask_lists(column: pa.ChunkedArray, found: dict[int, Found]) -> pa.Array | None:
    """Lists of strings (samples of a file): few and short, masked one by one."""
    rows = column.to_pylist()
    changed = False
    for index, items in enumerate(rows):
        for position, item in enumerate(items or []):
            if item is None:
                continue
            text, secrets = masked_with_secrets(item)
            if secrets:
                found.setdefault(index, []).extend(secrets)
            if text != item:
                items[position], changed = text, True
    return pa.array(rows, column.type) if changed else None


def _mask_values(value: str, found: Found) -> str:
    for secret, replacement in sorted(found, key=lambda f: len(f[0]), reverse=True):
        if secret in value:
            value = value.replace(secret, replacement)
    return value


def _mask_found_elsewhere(data: pa.Table, names: list[str], found: dict[int, Found]) -> pa.Table:
    # One test per row first (its masked fields joined): most secrets appear only where found.
    index = pa.array(sorted(found), pa.int64())
    texts = []
    for name in names:
        column = pc.take(data.column(name), index)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):  # a list
            column = pc.binary_join(column.cast(pa.list_(pa.large_string())), pa.scalar("\0", pa.large_string()))
        texts.append(column.cast(pa.large_string()))
    joined = pc.binary_join_element_wise(*texts, pa.scalar("\0", pa.large_string()), null_handling="replace")
    rows = [
        row
        for row, text in zip(index.to_pylist(), joined.to_pylist(), strict=True)
        if any(secret in text for secret, _ in found[row])
    ]
    if not rows:
        return data
    flags = np.zeros(data.num_rows, dtype=bool)
    flags[rows] = True
    hit = pa.array(flags)
    for name in names:
        column = data.column(name)
        values = pc.take(column, pa.array(rows, pa.int64())).to_pylist()
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            new = [None if v is None else _mask_values(v, found[r]) for r, v in zip(rows, values, strict=True)]
            if new != values:
                masked_column = pc.replace_with_mask(column.combine_chunks(), hit, pa.array(new, column.type))
                data = data.set_column(data.schema.get_field_index(name), name, masked_column)
        else:
            new_lists = [
                None if v is None else [None if i is None else _mask_values(i, found[r]) for i in v]
                for r, v in zip(rows, values, strict=True)
            ]
            if new_lists != values:
                everything = column.to_pylist()
                for r, v in zip(rows, new_lists, strict=True):
                    everything[r] = v
                data = data.set_column(data.schema.get_field_index(name), name, pa.array(everything, column.type))
    return data


def _url_secrets(urls: pa.ChunkedArray, kinds: dict[str, str]) -> pa.Array:
    """The secret kind of each URL (null for most) from ``kinds``, by distinct URL."""
    none = pa.nulls(len(urls), pa.string())
    if not kinds:
        return none
    hit = pc.is_in(urls, value_set=pa.array(list(kinds), urls.type)).combine_chunks()
    found = pc.take(urls, pc.indices_nonzero(hit)).to_pylist()
    return pc.replace_with_mask(none, hit, pa.array([kinds[u] for u in found], pa.string()))
