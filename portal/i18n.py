"""Translation helpers. Flask-Babel looks the catalogue up again for every string; a
list page shows a hundred labels, so the request's catalogue is looked up once and kept
on `g`. Use `lazy_gettext as _l` from here for labels defined at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import g, has_app_context
from flask_babel import LazyString, force_locale, get_translations


def request_translations() -> Any:
    if not has_app_context():
        return get_translations()  # a null catalogue: the English text
    try:
        return g._portal_translations
    except AttributeError:
        g._portal_translations = get_translations()
        return g._portal_translations


def _translate(string: str, variables: dict[str, Any]) -> str:
    text: str = request_translations().ugettext(string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    return LazyString(_translate, string, variables)


@contextmanager
def in_locale(locale: str) -> Iterator[None]:
    """Translate in `locale` inside the block (a notice or an e-mail for someone else),
    with the request's kept catalogue set aside and put back afterwards."""
    if not has_app_context():
        yield
        return
    saved = g.pop("_portal_translations", None)
    try:
        with force_locale(locale):
            yield
    finally:
        g.pop("_portal_translations", None)
        if saved is not None:
            g._portal_translations = saved
