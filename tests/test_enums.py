"""portal.enums: members that carry their label are still the plain values."""

from __future__ import annotations

import json
import pickle

from flask import Flask

from portal.auth.roles import ROLE_LABELS, Role
from portal.casefiles.forms import KIND_LABELS
from portal.casefiles.models import STATUS_LABELS, CaseKind, Status
from portal.enums import LabelledStrEnum, choices, labels
from portal.i18n import lazy_gettext as _l


class Colour(LabelledStrEnum):
    RED = "red", _l("Red")
    BLUE = "blue", _l("Blue")


def test_members_are_their_values():
    assert Colour.RED == "red" and str(Colour.RED) == "red" and f"{Colour.BLUE}" == "blue"
    assert Colour("blue") is Colour.BLUE and Colour.RED.value == "red"
    assert {"red": 1}[Colour.RED] == 1 and "blue" in labels(Colour)
    assert json.dumps({Colour.RED: 1}) == '{"red": 1}'
    assert pickle.loads(pickle.dumps(Colour.BLUE)) is Colour.BLUE


def test_labels_and_choices_keep_the_enum_order():
    assert list(labels(Colour)) == [Colour.RED, Colour.BLUE]
    assert [str(v) for v in labels(Colour).values()] == ["Red", "Blue"]
    assert choices(Colour) == [("red", "Red"), ("blue", "Blue")]


def test_the_old_label_dicts_are_derived_from_the_enums():
    assert labels(Status) == STATUS_LABELS and labels(Role) == ROLE_LABELS
    assert str(Status.INVESTIGATING.label) == "Under investigation"
    assert str(KIND_LABELS["land"]) == str(CaseKind.LAND.label) == "Land and contracted land"


def test_labels_are_translated_in_the_request_language(app: Flask):
    with app.test_request_context(headers={"Cookie": "portal_lang=zh_CN"}):
        assert str(Role.CLERK.label) == "接访员"
        assert choices(Role)[1] == ("clerk", "接访员")
