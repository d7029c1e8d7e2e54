"""The console's message catalogue: zh-CN and English, gettext `.po` files loaded with Babel.

Every label, message and error the console shows — in templates, in Python and the strings
its scripts need — is a msgid of `locale/<lang>/LC_MESSAGES/messages.po`. The language of
a request is the `lang` query parameter, else the `tianfu_lang` cookie, else the best match
of `Accept-Language`, else Chinese.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("zh_CN", "en")  # the catalogues shipped; the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]
COOKIE = "tianfu_lang"
LABELS = {"zh_CN": "中文", "en": "English"}
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it here (it is looked up later)."""
    return message


@cache
def translations(lang: str) -> gettext.GNUTranslations:
    """The compiled catalogue of `lang` (read from its `.po` once per process)."""
    if lang not in LANGUAGES:
        raise KeyError(f"no catalogue for {lang!r}")
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def _match(tag: str) -> str | None:
    tag = tag.strip().replace("-", "_")
    if not tag or tag == "*":
        return None
    try:
        loc = Locale.parse(tag)
    except (UnknownLocaleError, ValueError):
        return None
    if loc.language == "zh":
        return "zh_CN"
    if loc.language == "en":
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The shipped language a browser prefers most (by q-value), or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        lang = _match(tag[:35])
        if lang is not None and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def named(value: str | None) -> str | None:
    """The shipped language a `?lang=` or cookie value names, or None: `zh_CN` and `en`,
    also written as a language tag (`zh`, `zh-CN`, `en-US`, as the page's own `<html lang>`
    says; `?lang=zh` showed an English reader the English page)."""
    if value in LANGUAGES:
        return value
    if not value or len(value) > 35:  # the longest tag a reader would write is far shorter
        return None
    return _match(value)


def choose(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The language of a request (see the module docstring)."""
    for given in (query, cookie):
        code = named(given)
        if code is not None:
            return code
    return from_accept_language(accept) or DEFAULT_LANGUAGE
