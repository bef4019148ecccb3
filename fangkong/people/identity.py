"""ID numbers, phones and names: normalising, validating, masking, pinyin.

No database here: plain functions with their own tests.
"""

import re
import time
import unicodedata
from datetime import date, datetime, timedelta
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin
from stdnum import numdb
from stdnum.cn import ric

from .choices import DocumentType, Sex

_SPACES = re.compile(r"[\s\u3000'’`\"-]+")
PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")
RESIDENT_ID_RE = re.compile(r"[0-9]{17}[0-9X]")


def normalize_document(raw) -> str:
    """Upper-case half-width characters, no spaces, apostrophes or dashes."""
    if raw is None:
        return ""
    if raw.__class__ is str and raw.isascii() and raw.isalnum():
        return raw.upper()  # nothing to remove (the common case in imports, kept cheap)
    text = unicodedata.normalize("NFKC", str(raw))
    return _SPACES.sub("", text).upper()


def validate_resident_id(value: str) -> str:
    """The normalised 18-digit resident ID, or a ValidationError in Chinese."""
    number = normalize_document(value)
    if not RESIDENT_ID_RE.fullmatch(number):
        raise ValidationError(_("身份证号码应为18位：17位数字加1位数字或X。"), code="id_format")
    birth = _birth_date(number)
    if birth is None:
        raise ValidationError(_("身份证号码中的出生日期不存在。"), code="id_birth_date")
    if birth > _today():
        raise ValidationError(_("身份证号码中的出生日期晚于今天。"), code="id_birth_date")
    if number[-1] != ric.calc_check_digit(number):
        raise ValidationError(_("身份证号码校验位错误，请核对最后一位。"), code="id_checksum")
    if not known_birthplace(number[:6]):
        raise ValidationError(_("身份证号码中的出生地代码不存在。"), code="id_birth_place")
    return number


_day = [0.0, date.min]  # [when the date changes (a timestamp), today's date]


def _today() -> date:
    """date.today(), asked of the clock once a day: it costs more than the rest of an ID number's check."""
    if time.time() >= _day[0]:
        today = date.today()
        _day[:] = [datetime.combine(today + timedelta(days=1), datetime.min.time()).timestamp(), today]
    return _day[1]


def _birth_date(number: str) -> date | None:
    # Parsed here: stdnum's get_birth_date cleans the number again on every call (slow in imports).
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


@lru_cache(maxsize=8192)
def known_birthplace(code: str) -> bool:
    """Whether CODE is a county code that has existed at any time.

    stdnum's ric.validate also demands that the county existed in the birth
    year, but the number carries the code of the place where the card was
    first issued (from 1984 on), so it wrongly refuses everyone born in a
    county before the county got its current code (东平县 370923: 1985).
    """
    info = {k: v for _part, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    return bool(info.get("province") and info.get("county"))


def validate_document(doc_type: str, value: str) -> str:
    if doc_type == DocumentType.RESIDENT_ID:
        return validate_resident_id(value)
    if doc_type == DocumentType.NONE:
        return ""
    number = normalize_document(value)
    if not re.fullmatch(r"[A-Z0-9]{5,20}", number):
        raise ValidationError(_("证件号码应为5至20位字母或数字。"), code="document_format")
    return number


_MALE, _FEMALE = Sex.MALE, Sex.FEMALE  # looked up once: an import asks a million times


def resident_id_facts(number: str) -> tuple[date, str]:
    """Birth date and sex from a valid resident ID."""
    sex = _MALE if int(number[16]) % 2 == 1 else _FEMALE
    return _birth_date(number), sex


def normalize_phone(raw) -> str:
    """Mobile numbers: digits only, the +86 prefix and Excel's '.0' removed."""
    if raw is None:
        return ""
    if raw.__class__ is str and raw.isascii() and raw.isdigit():
        digits = raw  # nothing to remove (the common case in imports, kept cheap)
    else:
        text = unicodedata.normalize("NFKC", str(raw)).strip()
        text = re.sub(r"\.0+$", "", text)
        digits = re.sub(r"[\s\-()（）+]", "", text)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def validate_phone(raw) -> str:
    phone = normalize_phone(raw)
    if not phone:
        return ""
    if not (PHONE_RE.fullmatch(phone) or re.fullmatch(r"0[0-9]{9,11}", phone)):
        raise ValidationError(_("手机号码应为11位，以1开头；座机请带区号。"), code="phone_format")
    return phone


def mask_document(number: str) -> str:
    if not number:
        return ""
    if len(number) <= 8:
        return number[:1] + "*" * (len(number) - 2) + number[-1:]
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(phone: str) -> str:
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@lru_cache(maxsize=200_000)
def name_pinyin(name: str) -> tuple[str, str]:
    """Full pinyin and initials of a Chinese name, lower case: ("zhangsan", "zs")."""
    syllables = lazy_pinyin(name, style=Style.NORMAL, errors=lambda chars: list(chars.lower()))
    syllables = [s for s in (re.sub(r"[^a-z]", "", s.lower()) for s in syllables) if s]
    return "".join(syllables), "".join(s[0] for s in syllables)
