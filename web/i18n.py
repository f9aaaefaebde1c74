"""Languages: Chinese by default, English on request (?lang=en, a cookie, or the person's setting)."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request
from flask_babel import Babel, get_locale, get_translations

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DEFAULT = "zh_CN"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
COOKIE = "kaohe_lang"
COOKIE_AGE = 365 * 24 * 3600


def compile_catalogs(root: Path = TRANSLATIONS) -> list[Path]:
    """Compile every messages.po into the .mo beside it when the .mo is missing or older."""
    written = []
    for po_path in sorted(root.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as source:
            catalog = read_po(source, locale=po_path.parent.parent.name)
        # Several worker processes may start at once: write aside, then swap in atomically.
        partial = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.tmp")
        with partial.open("wb") as target:
            write_mo(target, catalog)
        os.replace(partial, mo_path)
        written.append(mo_path)
    return written


def normalise(choice: str | None) -> str | None:
    text = (choice or "").strip().lower()
    if text.startswith("en"):
        return "en"
    if text.startswith("zh"):
        return DEFAULT
    return None


def select_locale() -> str:
    """?lang= beats the cookie, which beats the person's saved choice; Chinese otherwise.""" 
    from flask_login import current_user
    for choice in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if normalise(choice):
            return normalise(choice)
    if current_user and current_user.is_authenticated:
        return normalise(current_user.language) or DEFAULT
    # API clients have no cookie or saved choice: they ask with Accept-Language.
    if request.path.startswith("/api/") and request.accept_languages:
        return normalise(request.accept_languages.best_match(["zh", "en"])) or DEFAULT
    return DEFAULT


def current_language() -> str:
    """'en' or 'zh_CN', as the engine's Message.text() expects."""
    return str(get_locale() or DEFAULT)


def remember_choice(response):
    chosen = normalise(request.args.get("lang"))
    if chosen and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_AGE, httponly=True, samesite="Lax")
    return response


def switch_url(language: str) -> str:
    """The current page in another language (the query string is kept)."""
    args = request.args.to_dict()
    args["lang"] = language
    return f"{request.path}?{urlencode(args)}"


def _page_translations():
    """The request's catalogue, found once per request: a page calls _() some 250 times, and
    Flask-Babel looks the catalogue up anew on each call (a fifth of an inbox page's CPU)."""
    translations = g.get("kaohe_translations")
    if translations is None:
        translations = g.kaohe_translations = get_translations()
    return translations


def init_app(app: Flask) -> None:
    compile_catalogs()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    # Templates' _() and ngettext() as Flask-Babel installs them, with the catalogue kept per request.
    app.jinja_env.install_gettext_callables(
        gettext=lambda text: _page_translations().ugettext(text),
        ngettext=lambda singular, plural, n: _page_translations().ungettext(singular, plural, n),
        pgettext=lambda context, text: _page_translations().upgettext(context, text),
        npgettext=lambda context, singular, plural, n: _page_translations().unpgettext(context, singular, plural, n),
        newstyle=True)
    app.after_request(remember_choice)
