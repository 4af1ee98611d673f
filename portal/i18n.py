"""Translation helpers. Flask-Babel looks the catalogue up again for every string; a
list page shows a hundred labels, so the request's catalogue is looked up once and kept
on `g`. Use `lazy_gettext as _l` from here for labels defined at import time."""

from __future__ import annotations

from typing import Any

from flask import g, has_app_context
from flask_babel import LazyString, get_translations


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
