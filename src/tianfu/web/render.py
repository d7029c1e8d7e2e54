"""Rendering the console's pages: Jinja2 templates in the request's language, with headers.

Every page is a Jinja2 template with autoescaping on (every value from the chain, contracts,
events or users is escaped by the template engine; no template marks anything safe), the
request's catalogue as `_`, `word` for the chain's enumerated words in that language
(`tianfu.web.words`), and the readable-value filters of `tianfu.web.format`. Every
answer carries the console's Content-Security-Policy: scripts, styles, images and
connections from the node itself only, no inline script or style, no framing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from babel.messages.extract import extract
from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from tianfu.proofs import values
from tianfu.web import format as fmt
from tianfu.web.i18n import COOKIE, HTML_LANG, LABELS, LANGUAGES, N_, choose, named, translations
from tianfu.web.words import (
    DURATION_FIELDS,
    EVENT_NAMES,
    METHOD_NAMES,
    REFUSAL_REASONS,
    REFUSING_CONTRACT,
    WORD_FIELDS,
    chain_word,
    field_name,
    name_label,
    receipt_error,
)

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STATIC_URL = "/console/static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
COOKIE_MAX_AGE = 365 * 86_400

# The navigation bar, (path, label): the explorer's pages, the applications' pages, the tools.
EXPLORER_PAGES = (
    ("/", N_("Overview")),
    ("/blocks", N_("Blocks")),
    ("/validators", N_("Validators")),
    ("/orgs", N_("Organisations")),
    ("/contracts", N_("Contracts")),
    ("/proposals", N_("Governance")),
)
APPLICATION_PAGES = (
    ("/funds", N_("Funds")),
    ("/receivables", N_("Receivables")),
    ("/works", N_("Works")),
    ("/orders", N_("Orders")),
    ("/trace", N_("Traceability")),
    ("/cases", N_("City cases")),
    ("/medical", N_("Health records")),
    ("/photos", N_("Photographs")),
)
NAV = (*EXPLORER_PAGES, *APPLICATION_PAGES, ("/verify", N_("Verify")), ("/docs", N_("API")))

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["yuan"] = fmt.yuan
_env.filters["short"] = fmt.short
_env.filters["plain"] = values.readable
_env.filters["json"] = fmt.as_json
_env.tests["list"] = lambda value: isinstance(value, (list, tuple))


def _fill(message: str, **params: Any) -> str:
    """A translated message with its %(name)s placeholders filled (the result is escaped
    by the template like any other value)."""
    return message % params


_env.filters["fill"] = _fill


@dataclass(frozen=True)
class Lang:
    """The language of one request and what the templates need of it."""

    code: str  # a catalogue: "zh_CN" or "en"
    explicit: bool  # chosen with ?lang= (then remembered in the cookie)

    @property
    def html(self) -> str:
        return HTML_LANG[self.code]

    def gettext(self, message: str) -> str:
        return translations(self.code).gettext(message)


JS_KEYWORDS = {"fail": None, "N_": None, "VerifyError": None}


@cache
def js_msgids() -> tuple[str, ...]:
    """The messages of the console's scripts (`static/js/*.js`: calls of `fail`, `N_`,
    `VerifyError`), which the pages hand to the scripts translated."""
    found: set[str] = set()
    for path in sorted((STATIC / "js").glob("*.js")):
        with path.open("rb") as fh:
            for _line, msg, _comments, _context in extract("javascript", fh, JS_KEYWORDS):
                found.add(msg[0] if isinstance(msg, tuple) else msg)
    return tuple(sorted(found))


@cache
def js_catalogue(code: str) -> str:
    """The scripts' messages in language `code`, as JSON {msgid: translation}."""
    t = translations(code)
    return json.dumps({m: t.gettext(m) for m in js_msgids()}, ensure_ascii=False)


def language(request: Request) -> Lang:
    query = request.query_params.get("lang")
    code = choose(query, request.cookies.get(COOKIE), request.headers.get("accept-language"))
    return Lang(code, named(query) is not None)


def page(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    """`template` rendered for `request` (its language, the node's time zone), with the
    console's headers; the language chosen with `?lang=` is remembered in a cookie."""
    lang = language(request)

    def page_link(param: str, value: str | None) -> str:
        """This page with the list cursor `param` set to `value` (None: removed, the first
        page), as a relative URL without `lang` (the cookie keeps the language)."""
        url = request.url.remove_query_params(["lang", param])
        if value is not None:
            url = url.include_query_params(**{param: value})
        path = link_path(url.path)
        return f"{path}?{url.query}" if url.query else path

    html = _render(
        template,
        lang.code,
        lang_url=lambda code: _other_lang_url(request, code),
        page_link=page_link,
        path=request.url.path,
        **context,
    )
    return _html_response(html, http_status, lang)


def _other_lang_url(request: Request, code: str) -> str:
    """This page in language `code`: a URL from the root of this node (never the request's
    Host; a path that starts with `//`, which a browser reads as another host's URL, starts
    with one slash)."""
    url = request.url.include_query_params(lang=code)
    return "/" + link_path(url.path).lstrip("/") + "?" + url.query


def link_path(path: str) -> str:
    """A request's (decoded) path as a link's: percent-encoded again where a URL path needs
    it (a control character, a space, a non-ASCII letter, a "%", "?" or "#" it held)."""
    return quote(path, safe="/:@!$&'()*+,;=~")


def _render(template: str, code: str, /, **context: Any) -> str:
    lang = Lang(code, False)
    tz = fmt.node_zone()
    _ = lang.gettext

    def date(ms: Any) -> str:
        return fmt.date(ms, tz)

    def duration(ms: Any) -> str:
        return fmt.duration(ms, _)

    return _env.get_template(template).render(
        _=_,
        lang=lang,
        languages=[(c, LABELS[c]) for c in LANGUAGES],
        date=date,
        duration=duration,
        word=chain_word(_),
        field=field_name(_),
        event_name=name_label(EVENT_NAMES, _),
        method_name=name_label(METHOD_NAMES, _),
        refusal=name_label(REFUSAL_REASONS, _),
        refusing=REFUSING_CONTRACT,
        receipt_error=receipt_error(_),
        word_fields=WORD_FIELDS,
        duration_fields=DURATION_FIELDS,
        tz_name=str(tz),
        js_catalogue=js_catalogue(code),
        static=STATIC_URL,
        nav=NAV,
        **context,
    )


def _html_response(html: str, http_status: int, lang: Lang) -> HTMLResponse:
    response = HTMLResponse(html, status_code=http_status, headers=SECURITY_HEADERS)
    if lang.explicit:
        response.set_cookie(
            COOKIE, lang.code, max_age=COOKIE_MAX_AGE, samesite="lax", httponly=True
        )
    return response


# Stands in a shared page for its links to the same page in another language.
_LANG_URL_MARK = "tianfu-lang-url-"


def shared_error_page(
    request: Request, http_status: int, message: str, **params: str | int
) -> HTMLResponse:
    """`error_page`, for an answer that says the same whatever the request asked (a refusal
    under a flood, answered on the event loop): the page is rendered once per language,
    status and message, and only its links to the page in the other languages are the
    request's, put in by replacing text. A refused page costs a string replacement, not a
    template render (0.4-0.5 ms each)."""
    lang = language(request)
    html = _shared_error_html(
        lang.code, http_status, message, tuple(sorted(_shown(params).items()))
    )
    for code in LANGUAGES:
        if code != lang.code:
            url = str(escape(_other_lang_url(request, code)))
            html = html.replace(_LANG_URL_MARK + code, url)
    return _html_response(html, http_status, lang)


@lru_cache(maxsize=64)
def _shared_error_html(
    code: str, http_status: int, message: str, params: tuple[tuple[str, str | int], ...]
) -> str:
    return _render(
        "error.html",
        code,
        lang_url=lambda other: _LANG_URL_MARK + other,
        page_link=None,
        path="",
        message=message,
        params=dict(params),
    )


# What an error page never shows as itself of a value taken from the request: control
# characters (NUL, line breaks, escape, C1) and the invisible ones that reorder or hide text
# (bidirectional overrides and isolates, zero-width characters, line separators, BOM).
_UNSHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def shown(value: Any) -> Any:
    """A value from the request (a path, a malformed id or cursor) as an error page shows
    it: each control or invisible character as its percent-encoding (`%00`), never itself."""
    if not isinstance(value, str):
        return value
    return _UNSHOWN.sub(lambda m: quote(m.group(), safe=""), value)


def _shown(params: dict[str, Any]) -> dict[str, Any]:
    return {k: shown(v) for k, v in params.items()}


def not_found(request: Request, message: str, **params: Any) -> HTMLResponse:
    """A 404 page; `message` is a catalogue msgid with %(name)s placeholders for `params`."""
    return page(request, "error.html", http_status=404, message=message, params=_shown(params))


def error_page(request: Request, http_status: int, message: str, **params: Any) -> HTMLResponse:
    """An error page with HTTP status `http_status`; `message` as for `not_found`."""
    return page(
        request, "error.html", http_status=http_status, message=message, params=_shown(params)
    )


def bad_request(request: Request, message: str, **params: Any) -> HTMLResponse:
    return page(request, "error.html", http_status=400, message=message, params=_shown(params))


def cursor(
    request: Request,
    name: str,
    numeric: bool = False,
    limit: int = 200,
    pattern: re.Pattern[str] | None = None,
) -> str | None | HTMLResponse:
    """The list cursor in query parameter `name` (None: the first page), or a 400 page when
    it is malformed: longer than `limit`, not a position when `numeric`, or not matching
    `pattern`."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if pattern is not None and not pattern.fullmatch(value):
        return bad_request(request, N_("Not a page of this list: %(value)s"), value=value[:40])
    if len(value) > limit or (
        numeric and not (value.isascii() and value.isdigit() and len(value) <= 18)
    ):
        return bad_request(request, N_("Not a page of this list: %(value)s"), value=value[:40])
    return value


class Ids(NamedTuple):
    """The ids of one kind of record in a path: their pattern, and the catalogue messages
    of a malformed one ("Not a ...: %(value)s") and of an unknown one ("No ... %(id)s")."""

    pattern: re.Pattern[str]
    malformed: str
    missing: str


def lookup(
    request: Request, ids: Ids, value: str, load: Callable[[str], Any], **params: Any
) -> dict[str, Any] | HTMLResponse:
    """The record `load(value)` for an id from the path: a 400 page when `value` is not
    one of `ids`, a 404 page (its message filled with `params`) when `load` finds none."""
    if not ids.pattern.fullmatch(value):
        return bad_request(request, ids.malformed, value=value[:80])
    record = load(value)
    if not isinstance(record, dict):
        return not_found(request, ids.missing, **params)
    return record


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


class SecuredStatic(StaticFiles):
    """The console's static files, with its security headers (a refusal too: a missing
    file, a path out of the directory, a method other than GET and HEAD)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return secured(await super().get_response(path, scope))
        except HTTPException as exc:
            return secured(PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers))
