"""Identity documents and phone numbers as people type them: checked before anything is
stored, each refusal a message for the field.

Mainland resident ID numbers follow GB 11643-1999: 6 digits of the registering area (the
first two a province), the date of birth (YYYYMMDD), 3 digits of sequence and a check
character computed over the first 17 (ISO 7064 MOD 11-2; 10 is written X). Other documents
are checked by their kind's form only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from portal.enums import LabelledStrEnum
from portal.i18n import lazy_gettext as _l

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
#: the first two digits of a resident ID: the provinces, autonomous regions and
#: municipalities; 71 Taiwan, 81/82 Hong Kong and Macao residence permits, 83 Taiwan's
_PROVINCES = frozenset({
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
    50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})


class IdKind(LabelledStrEnum):
    RESIDENT_ID = "resident_id", _l("Resident identity card (居民身份证)")
    PASSPORT = "passport", _l("Passport")
    HK_MACAO_PERMIT = "hk_macao_permit", _l("Mainland travel permit for Hong Kong and "
                                            "Macao residents")
    TAIWAN_PERMIT = "taiwan_permit", _l("Mainland travel permit for Taiwan residents")
    FOREIGN_PERMANENT = "foreign_permanent", _l("Foreigner's permanent residence ID card")
    OTHER = "other", _l("Other document")


@dataclass(frozen=True)
class Invalid(Exception):
    """The value is not a valid number of its kind; `message` says why, for the field."""

    message: object

    def __str__(self) -> str:
        return str(self.message)


def check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalised(value: str) -> str:
    """The number as typed, without spaces and dashes, full-width digits made ASCII,
    letters in capitals: how numbers are compared."""
    # people type spaces, and a full-width Ｘ or digits from Chinese keyboards
    table = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")
    return re.sub(r"[\s\-]", "", value.translate(table)).upper()


def resident_id(value: str, today: date | None = None) -> str:
    """The 18-character resident ID number, normalised; Invalid when it is not one."""
    number = normalised(value)
    if len(number) == 15 and number.isdigit():
        raise Invalid(_l("This is a 15-digit first-generation number: enter the 18-digit "
                         "number of the current identity card."))
    if len(number) != 18:
        raise Invalid(_l("A resident ID number has 18 characters (%(n)d entered).",
                         n=len(number)))
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise Invalid(_l("A resident ID number is 17 digits and a last digit or X."))
    if int(number[:2]) not in _PROVINCES:
        raise Invalid(_l("The first two digits of this ID number name no province."))
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise Invalid(_l("Digits 7 to 14 of an ID number are the date of birth; "
                         "%(digits)s is not a date.", digits=number[6:14])) from None
    if born.year < 1900 or born > (today or date.today()):
        raise Invalid(_l("The date of birth in this ID number (%(day)s) cannot be right.",
                         day=born.isoformat()))
    if check_digit(number[:17]) != number[17]:
        raise Invalid(_l("The last character of this ID number does not match the others: "
                         "please check each digit."))
    return number


_FORMS: dict[IdKind, tuple[re.Pattern[str], object]] = {
    IdKind.PASSPORT: (re.compile(r"[A-Z0-9]{5,17}"),
                            _l("A passport number is 5 to 17 letters and digits.")),
    IdKind.HK_MACAO_PERMIT: (re.compile(r"[HM][0-9]{8}([0-9]{2})?"),
                                   _l("This permit's number is H or M and 8 or 10 digits.")),
    IdKind.TAIWAN_PERMIT: (re.compile(r"[0-9]{8}([0-9]{2})?"),
                                 _l("This permit's number is 8 or 10 digits.")),
    IdKind.FOREIGN_PERMANENT: (re.compile(r"[A-Z]{3}[0-9]{12}|9[0-9]{16}[0-9X]"),
                                     _l("This card's number is 3 letters and 12 digits, or "
                                        "18 characters beginning with 9.")),
    IdKind.OTHER: (re.compile(r"[A-Z0-9()（）]{3,30}"),
                         _l("Enter the document's number: 3 to 30 letters and digits.")),
}


def document_number(kind: str, value: str, today: date | None = None) -> str:
    """The document number checked for its kind and normalised; Invalid otherwise."""
    try:
        doc = IdKind(kind or IdKind.RESIDENT_ID)
    except ValueError:
        raise Invalid(_l("Choose the kind of identity document.")) from None
    if doc is IdKind.RESIDENT_ID:
        return resident_id(value, today)
    number = normalised(value)
    pattern, message = _FORMS[doc]
    if not pattern.fullmatch(number):
        raise Invalid(message)
    return number


_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[1-9][0-9]{1,2}[0-9]{7,8}")
_SERVICE = re.compile(r"(400|800)[0-9]{7}")


def phone(value: str) -> str:
    """A mainland mobile (11 digits from 13–19), a landline with its area code (0571
    87654321) or a 400/800 service number, with an extension after 转, ext or #;
    normalised to digits (the extension after '-'); Invalid otherwise."""
    text = re.sub(r"[()（）]", "", normalised(value))
    main, extension = text, ""
    split = re.fullmatch(r"(.+?)(?:转|EXT\.?|#)(.*)", text)
    if split:
        main, extension = split.groups()
    main = re.sub(r"^(?:\+86|0086|86(?=1[3-9][0-9]{9}$))", "", main)
    if not main.isdigit():
        raise Invalid(_l("A phone number is made of digits, for example 13912345678 or "
                         "0571-87654321."))
    if not (_MOBILE.fullmatch(main) or _LANDLINE.fullmatch(main)
            or _SERVICE.fullmatch(main)):
        raise Invalid(_l("This is not a phone number in mainland China: a mobile has 11 "
                         "digits beginning with 1, a landline begins with its area code."))
    if extension and not extension.isdigit():
        raise Invalid(_l("An extension is made of digits."))
    return main + (f"-{extension}" if extension else "")
