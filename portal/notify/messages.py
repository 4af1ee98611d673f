"""Notices in the recipient's language.

A notice is stored as a message key and its values (JSON), not as text in one language:
each domain registers its keys with a translatable text (`register`), and the inbox
renders a notice in the reader's language when it is shown (`text_of`); an e-mail is
rendered in the recipient's preferred language when it is queued (`notify`).

A user's preferred language is the one they last chose with the language switch while
logged in (`remember_locale`, kept in `user_preferences`), the portal's default
(zh_CN) otherwise."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import current_app, has_app_context
from flask_babel import LazyString

from portal.extensions import DbSession
from portal.i18n import in_locale
from portal.notify.models import Notification, UserPreference
from portal.timeutil import utcnow

#: key -> (the notice's text, the e-mail's subject)
_MESSAGES: dict[str, tuple[LazyString, LazyString]] = {}
#: key -> the names of its values that are themselves texts to translate (a clock's name,
#: stored as its English source text and shown in the reader's language)
_TRANSLATED: dict[str, tuple[str, ...]] = {}
#: the languages a preference may name (portal.web.LOCALES)
_LOCALES = ("zh_CN", "en")


def register(key: str, text: LazyString, subject: LazyString,
             translated: tuple[str, ...] = ()) -> None:
    """Make `key` a notice: `text` (with %(name)s placeholders for its values) and the
    subject of its e-mail. Both are lazy (`_l`), so that they are translated when shown;
    so are the values named in `translated` (stored as their English source text)."""
    _MESSAGES[key] = (text, subject)
    _TRANSLATED[key] = translated


def is_registered(key: str) -> bool:
    return key in _MESSAGES


def _default_locale() -> str:
    if has_app_context():
        return str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh_CN")
    return "zh_CN"


def _format(template: LazyString, values: Mapping[str, Any]) -> str:
    text = str(template)
    try:
        return text % dict(values) if values else text
    except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
        return text


def render(key: str, values: Mapping[str, Any], locale: str | None = None,
           part: int = 0) -> str:
    """The text (part 0) or the e-mail subject (part 1) of notice `key` with `values`,
    in `locale` (the current request's language when None)."""
    template = _MESSAGES[key][part]

    def rendered() -> str:
        from flask_babel import gettext

        shown = dict(values)
        for name in _TRANSLATED.get(key, ()):
            if isinstance(shown.get(name), str):
                shown[name] = gettext(shown[name])
        return _format(template, shown)

    if locale is None:
        return rendered()
    with in_locale(locale):
        return rendered()


def locale_of(session: DbSession, user_id: int) -> str:
    """The language notices reach this user in."""
    preference = session.get(UserPreference, user_id)
    if preference is not None and preference.locale in _LOCALES:
        return str(preference.locale)
    return _default_locale()


def remember_locale(session: DbSession, user_id: int, locale: str) -> None:
    """Keep the language a logged-in user chose, for the notices they get while away."""
    if locale not in _LOCALES:
        return
    preference = session.get(UserPreference, user_id)
    if preference is None:
        session.add(UserPreference(user_id=user_id, locale=locale, updated_at=utcnow()))
    elif preference.locale != locale:
        preference.locale = locale
        preference.updated_at = utcnow()
    session.flush()


def text_of(notification: Notification) -> str:
    """A notice as its reader sees it now: rendered in the page's language from its key
    and values; the stored text for a plain message (or a key no longer known)."""
    key = notification.message_key
    if not key or key not in _MESSAGES:
        return notification.text
    try:
        values = json.loads(notification.message_values or "{}")
    except ValueError:
        return notification.text
    return render(key, values if isinstance(values, dict) else {})


def values_json(values: Mapping[str, Any]) -> str:
    return json.dumps({k: v if isinstance(v, (int, float)) or v is None else str(v)
                       for k, v in values.items()}, ensure_ascii=False, sort_keys=True)
