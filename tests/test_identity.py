"""Identity documents and phone numbers: GB 11643 resident IDs (length, province, date of
birth, check digit), other documents by kind, mainland phone numbers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.identity import Invalid, check_digit, document_number, phone, resident_id

TODAY = date(2026, 12, 2)
#: GB 11643's own example and well-known valid numbers
VALID = ["11010519491231002X", "440524198001010013", "330102196001011230"]


@pytest.mark.parametrize("number", VALID)
def test_valid_resident_ids_pass_normalised(number):
    assert resident_id(number, TODAY) == number
    spaced = " ".join([number[:6], number[6:14], number[14:]]).lower()
    assert resident_id(spaced, TODAY) == number


def test_full_width_characters_from_a_chinese_keyboard():
    assert resident_id("１１０１０５１９４９１２３１００２Ｘ", TODAY) == "11010519491231002X"


@pytest.mark.parametrize(("number", "says"), [
    ("12345", "18 characters (5 entered)"),
    ("110105194912310021", "does not match"),  # wrong check digit
    ("110105194913310025", "is not a date"),  # month 13
    ("110105203001010021", "cannot be right"),  # born in the future
    ("990105194912310021", "no province"),
    ("11010519491231002Y", "17 digits and a last digit or X"),
    ("110105491231002", "15-digit"),
])
def test_invalid_resident_ids_say_why(number, says):
    with pytest.raises(Invalid) as error:
        resident_id(number, TODAY)
    assert says in str(error.value)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character_is_accepted(first17):
    body = "11" + first17[2:6] + "19800101" + first17[14:]
    right = check_digit(body)
    assert resident_id(body + right, TODAY) == body + right
    for wrong in set("0123456789X") - {right}:
        with pytest.raises(Invalid):
            resident_id(body + wrong, TODAY)


@pytest.mark.parametrize(("kind", "number", "normalised"), [
    ("passport", "e12345678", "E12345678"),
    ("hk_macao_permit", "H12345678", "H12345678"),
    ("taiwan_permit", "12345678", "12345678"),
    ("foreign_permanent", "USA123456789012", "USA123456789012"),
    ("other", "a1234", "A1234"),
])
def test_other_documents_by_their_kind(kind, number, normalised):
    assert document_number(kind, number, TODAY) == normalised


@pytest.mark.parametrize(("kind", "number"), [
    ("passport", "1"), ("hk_macao_permit", "X12345678"), ("taiwan_permit", "1234"),
    ("foreign_permanent", "12345"), ("resident_id", "12345"), ("nonsense", "E1234567")])
def test_documents_of_the_wrong_form_are_refused(kind, number):
    with pytest.raises(Invalid):
        document_number(kind, number, TODAY)


@pytest.mark.parametrize(("typed", "kept"), [
    ("13912345678", "13912345678"), ("139 1234 5678", "13912345678"),
    ("+86 139-1234-5678", "13912345678"), ("0571-87654321", "057187654321"),
    ("(010) 6512 3456", "01065123456"), ("0571-87654321转808", "057187654321-808"),
    ("4008123123", "4008123123"), ("１３９１２３４５６７８", "13912345678"),
])
def test_phone_numbers_normalised(typed, kept):
    assert phone(typed) == kept


@pytest.mark.parametrize("typed", ["abc", "12345", "1391234567", "23912345678",
                                   "139123456789", "0571-123", "13912345678转ab", ""])
def test_phone_numbers_refused(typed):
    with pytest.raises(Invalid):
        phone(typed)
