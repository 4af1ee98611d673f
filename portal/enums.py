"""Enums whose members carry their label, written next to the value:

    class Channel(LabelledStrEnum):
        WALK_IN = "walk_in", _l("Walk-in visit")
        LETTER = "letter", _l("Letter")

    Channel.WALK_IN == "walk_in"        # still a str, stored and compared as the value
    Channel("letter").label             # the lazy translation: str() it in the request
    labels(Channel)                     # {Channel.WALK_IN: _l("Walk-in visit"), ...}
    choices(Channel)                    # [("walk_in", "Walk-in visit"), ...] for WTForms

Write the label as `_l("...")` (portal.i18n.lazy_gettext) right in the member: pybabel
extracts it from there (babel.cfg, `-k _l`), and the text is translated when it is shown,
in the language of the request."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from flask_babel import LazyString

E = TypeVar("E", bound="LabelledStrEnum")


class LabelledStrEnum(StrEnum):
    """A StrEnum whose members are `NAME = "value", _l("Label")`: the member is the value
    (a str, stored and compared as before), `.label` its lazy label."""

    _value_: str
    label: LazyString

    if TYPE_CHECKING:  # what the members are to a type checker: str values, not tuples

        @property
        def value(self) -> str: ...

    else:  # hidden from type checkers, which then read `Kind("value")` as the look-up it is

        def __new__(cls, value: str, label: LazyString) -> Any:
            member = str.__new__(cls, value)
            member._value_ = value
            member.label = label
            return member


def labels(enum: type[E]) -> dict[E, LazyString]:
    """Member -> lazy label, in the enum's order (for templates and lookups by value)."""
    return {member: member.label for member in enum}


def choices(enum: type[LabelledStrEnum]) -> list[tuple[str, str]]:
    """(value, label) pairs for a WTForms SelectField, translated now (call it in the
    request, when the form is built)."""
    return [(str(member), str(member.label)) for member in enum]
