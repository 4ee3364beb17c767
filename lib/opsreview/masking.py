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
form too (``password: x``, ``"token": "x"``) and so are bearer tokens.
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from opsreview.relations import run_sql, sql_string
from opsreview.secrets import redact

__all__ = ["mask_sensitive", "mask_sensitive_sql", "masked", "sensitive_in_urls", "luhn_valid"]

JWT = r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
API_KEY = r"(?:(?:sk|rk|pk)_(?:live|test)_|whsec_|gh[pousr]_|xox[abprs]-)[0-9A-Za-z_-]{8,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}"
_API_KEY_PREFIX = r"((?:sk|rk|pk)_(?:live|test)_|whsec_|gh[pousr]_|xox[abprs]-|AKIA|AIza)[0-9A-Za-z_-]{8,}"
CREDENTIAL_NAMES = (
    "password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|id_token|auth|authorization"
    "|api_key|apikey|api-key|access_key|private_key|session|sessionid|session_id|jwt|credentials"
)
CREDENTIAL_PARAM = rf"(?i)([?&;](?:{CREDENTIAL_NAMES}))=([^&#;\s]+)"
# The same names in free text (log messages, stacks): `password=x`, `api_key: x`, a JSON
# key `"token": "x"`, and bearer tokens. Masked wherever text is shown (not searched in URLs:
# there the query-string form above is the finding).
# Names may carry a prefix (DB_PASSWORD, stripe_api_key); values may be quoted (logfmt,
# util.inspect's `{ password: 'x' }`) or bare; Authorization's Basic/Digest credentials too.
_PREFIXED = rf"(?:[A-Za-z0-9]+[_-])*(?:{CREDENTIAL_NAMES})"
CREDENTIAL_JSON = rf'(?i)("{_PREFIXED}"\s*:\s*)(?:"[^"]*"|[^,}}\]\s]+)'
CREDENTIAL_TEXT = rf"""(?i)\b({_PREFIXED}\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s"',;&}}]+)"""
BEARER = r"(?i)((?:bearer|basic|digest)\s+)[A-Za-z0-9._~+/=-]{8,}"
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
_NOT_DIGITS = r"%20|[^0-9]"
PREFILTER = (
    rf"eyJ|_live_|_test_|whsec_|gh[pousr]_|xox[abprs]-|AKIA|AIza|(?i:[?&;](?:{CREDENTIAL_NAMES})=)"
    rf"|(?:[0-9]{_CARD_SEP}?){{13,}}"
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
_PY_KEY = re.compile(_API_KEY_PREFIX)
_PY_PARAM = re.compile(CREDENTIAL_PARAM)
_PY_CARD = re.compile(CARD)
_PY_TEXT_MASKS = (  # bearer first: `Authorization: Bearer x` would otherwise lose only "Bearer"
    (re.compile(BEARER), rf"\1{MASK}"),
    (re.compile(CREDENTIAL_JSON), rf'\1"{MASK}"'),
    (re.compile(CREDENTIAL_TEXT), rf"\g<1>{MASK}"),
)


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(_NOT_DIGITS, "", match.group(2))
    if 13 <= len(digits) <= 19 and card_issuer_plausible(digits) and luhn_valid(digits):
        return f"{match.group(1)}{MASK}{digits[-4:]}{match.group(3)}"
    return match.group(0)


def mask_sensitive(text: str) -> str:
    """Mask JWTs, API keys, credential parameter values and Luhn-valid card numbers in ``text``."""
    text = _PY_JWT.sub(f"{MASK}JWT{MASK}", text)
    text = _PY_KEY.sub(lambda m: m.group(1) + MASK, text)
    text = _PY_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    for pattern, replacement in _PY_TEXT_MASKS:
        text = pattern.sub(replacement, text)
    # twice: adjacent numbers share the separator between them
    return _PY_CARD.sub(_mask_card, _PY_CARD.sub(_mask_card, text))


def masked(text: str) -> str:
    """``text`` as it may be shown: resolved secrets (:func:`opsreview.secrets.redact`) and
    everything :func:`mask_sensitive` knows masked."""
    return mask_sensitive(redact(text))


def mask_sensitive_sql(column: str) -> str:
    """A DuckDB expression masking the same things as :func:`mask_sensitive` (cards: any candidate)."""
    expr = f"regexp_replace({column}, {sql_string(JWT)}, '{MASK}JWT{MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(_API_KEY_PREFIX)}, '\\1{MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(CREDENTIAL_PARAM)}, '\\1={MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(BEARER)}, '\\1{MASK}', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(CREDENTIAL_JSON)}, '\\1\"{MASK}\"', 'g')"
    expr = f"regexp_replace({expr}, {sql_string(CREDENTIAL_TEXT)}, '\\1{MASK}', 'g')"
    # SQL masks every card-shaped number (no Luhn here): over-masking a displayed id is harmless.
    for _ in range(2):  # twice: adjacent numbers share the separator between them
        expr = f"regexp_replace({expr}, {sql_string(CARD)}, '\\1{MASK}\\3', 'g')"
    return expr


def sensitive_in_urls(rel: duckdb.DuckDBPyRelation, max_samples: int = 3) -> pd.DataFrame:
    """Requests whose logged URL carries a secret or a card number, grouped by kind and route.

    ``rel`` is a `requests` relation (a ``route`` column is used when present). Returns one row
    per (kind, route): requests, clients, first, last, and up to ``max_samples`` masked URLs.
    """
    route = "route" if "route" in rel.columns else "method || ' ' || split_part(path, '?', 1)"
    route = mask_sensitive_sql(route)
    cards = _card_numbers_sql("url")
    sql = f"""
        WITH candidates AS (
            SELECT ts, remote_addr, {route} AS route, url FROM t
            WHERE url IS NOT NULL AND regexp_matches(url, {sql_string(PREFILTER)})
        ), classified AS (
            SELECT *, CASE
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
