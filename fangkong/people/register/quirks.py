"""Undoing what Excel does to register cells, and saying so when it cannot be undone.

Cells come from python-calamine (float, int, date, datetime, str, bool, ""
or None for an empty cell) or from a CSV (str). Each function accepts any of
them and returns the clean value, or raises QuirkError whose str() is a
Chinese message the grid worker can act on (it goes into the error report).

These functions only undo or diagnose Excel's damage. Whether an ID number
is valid (checksum, birth date, sex digit) or a phone number exists is
decided later by fangkong.people.identity.
"""

import math
import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal

from stdnum.cn import ric


class QuirkError(ValueError):
    """A cell that cannot be used; str() is the message for the error report."""


# Blanks Excel, WPS and copy-paste leave inside cells: spaces, tabs, line
# breaks, no-break and full-width spaces, zero-width characters and BOMs.
_BLANKS = re.compile(r"[\s\u3000\u200b\u200c\u200d\u2060\ufeff]+")
# What people put in front of a number to make Excel keep it as text.
_QUOTES = "'‘’`\""
_SCIENTIFIC = re.compile(r"^[+-]?[0-9]*\.?[0-9]+[eE][+-]?[0-9]+$")
_TEXT_FORMAT_HINT = "请把该列设为“文本”格式后重新填写。"


def _is_empty(value) -> bool:
    return value is None or value == ""


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _normal(value) -> str:
    """NFKC (full-width digits and letters become half-width), without any blanks."""
    text = str(value)
    if text.isascii():
        return text if text.isalnum() else _BLANKS.sub("", text)  # the common cases, kept cheap
    return _BLANKS.sub("", unicodedata.normalize("NFKC", text))


def clean_text(value) -> str:
    """A cell as text: "" for empty, 123.0 as "123", NFKC, blanks trimmed (runs inside made one space), no leading '."""
    if value is None:
        return ""
    if isinstance(value, str):
        if value.isprintable() and " " not in value and value[:1] != "'" and (
                value.isascii() or unicodedata.is_normalized("NFKC", value)):
            # Nothing to undo (the common case, kept cheap): the only blank isprintable() lets through is " ".
            return value
        if value.isascii():  # NFKC changes nothing in ASCII: skip it
            return _BLANKS.sub(" ", value).strip().lstrip("'").strip()
    elif isinstance(value, bool):
        return "是" if value else "否"
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime):
        return f"{value:%Y-%m-%d}" if value.time() == datetime.min.time() else f"{value:%Y-%m-%d %H:%M:%S}"
    elif isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    text = unicodedata.normalize("NFKC", str(value))
    text = _BLANKS.sub(" ", text).strip()
    return text.lstrip("'").strip()


def _digits_shown(value) -> str:
    """A whole number cell as the digits Excel shows: 15 significant digits at most, zeros after."""
    if isinstance(value, int):
        return str(value)
    return str(int(Decimal(format(value, ".15g"))))


def _excel_scientific(value: float) -> str:
    """How Excel's General format shows a big number: 3.70923E+17."""
    mantissa, exponent = format(value, ".5E").split("E")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}E+{int(exponent):02d}" if int(exponent) >= 0 else f"{mantissa}E{int(exponent):03d}"


def _scientific_id_error(shown: str) -> QuirkError:
    return QuirkError(f"身份证号被 Excel 转成了科学计数法（{shown}），后几位已丢失：{_TEXT_FORMAT_HINT}")


def _zeroed_id_error(length: int = 18) -> QuirkError:
    lost = f"后{length - 15}位被 Excel 改成了{'0' * (length - 15)}" if length > 15 else "后几位被 Excel 改成了0"
    return QuirkError(f"身份证号{lost}（Excel 只保留15位有效数字，身份证号被存成了数字）：{_TEXT_FORMAT_HINT}")


def clean_id_number(value) -> str:
    """The document number with Excel's damage undone: upper case, half-width, no blanks ("" if empty).

    Undone: a leading apostrophe, blanks and tabs inside, full-width
    characters, a lowercase x, a whole number stored as a float (123.0).
    Diagnosed (QuirkError): scientific notation, the last digits turned into
    000 by Excel's 15 significant digits, a 15-digit old-style number.
    """
    if _is_empty(value):
        return ""
    if isinstance(value, bool):
        raise QuirkError("证件号码一栏填的是“是/否”，请填写证件号码。")
    if isinstance(value, (date, datetime)):
        raise QuirkError(f"证件号码一栏被 Excel 当成了日期（{clean_text(value)}）：{_TEXT_FORMAT_HINT}")
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            if math.isfinite(value) and "e" in repr(value):
                raise _scientific_id_error(_excel_scientific(value))
            raise QuirkError(f"证件号码“{value}”无法识别，请核对。")
        digits = _digits_shown(value)
        if len(digits) >= 16:
            if len(digits.rstrip("0")) <= 12:
                # Only the few digits Excel showed on screen survived (3.70923E+17).
                raise _scientific_id_error(_excel_scientific(value))
            # A float keeps 15 significant digits; Excel turned the rest into zeros.
            raise _zeroed_id_error(len(digits))
        return _check_old_style(digits)
    text = _normal(value).strip(_QUOTES).upper()
    if not text:
        return ""
    if "E" in text and _SCIENTIFIC.match(text):
        raise _scientific_id_error(text)
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # a number cell exported to CSV
    if len(text) == 18 and text.isdigit() and text.endswith("000") and text[-1] != ric.calc_check_digit(text):
        raise _zeroed_id_error(18)
    return _check_old_style(text)


def _check_old_style(text: str) -> str:
    if len(text) == 15 and text.isdigit():
        raise QuirkError("这是15位的旧身份证号，请填写18位的居民身份证号码。")
    return text


def clean_phone(value) -> str:
    """Phone digits: 13862345678.0, "+86 138-6234-5678", full-width digits all give "13862345678"; "" if empty."""
    if _is_empty(value):
        return ""
    if isinstance(value, (bool, date, datetime)):
        raise QuirkError(f"联系电话“{clean_text(value)}”不是电话号码。")
    if _is_number(value):
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            if math.isfinite(value) and "e" in repr(value):
                raise QuirkError(
                    f"手机号被 Excel 转成了科学计数法（{_excel_scientific(value)}），后几位已丢失：{_TEXT_FORMAT_HINT}")
            raise QuirkError(f"联系电话“{value}”带有小数，请核对。")
        return _digits_shown(value)
    text = _normal(value).strip(_QUOTES)
    if text.isdigit():
        digits = text
    else:
        if _SCIENTIFIC.match(text):
            raise QuirkError(f"手机号被 Excel 转成了科学计数法（{text}），后几位已丢失：{_TEXT_FORMAT_HINT}")
        text = re.sub(r"\.0+$", "", text)
        digits = re.sub(r"[-–—()（）+.]", "", text)
    if digits.startswith("0086") and len(digits) == 15:
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


# Excel's 1900 date system: serial 1 is 1900-01-01 and serial 60 the
# 1900-02-29 that never was (a Lotus 1-2-3 bug Excel kept); from serial 61
# (1900-03-01) on, day 0 is in effect 1899-12-30.
_EXCEL_DAY_ZERO = date(1899, 12, 30)
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31
_DATE_PATTERNS = [
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$"),
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]
_YEAR_MONTH = re.compile(r"^(\d{4})(?:年(\d{1,2})月?|[-/.](\d{1,2})|(\d{2}))$")
_TIME_SUFFIX = re.compile(r"[ T]+\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_DATE_HINT = "请写成 2022-04-09 或 2022年4月9日。"


def excel_serial_to_date(serial: int) -> date:
    if serial < 1 or serial > _EXCEL_MAX_SERIAL:
        raise QuirkError(f"日期数值 {serial} 不是有效的 Excel 日期：{_DATE_HINT}")
    if serial == 60:
        raise QuirkError("日期不存在：Excel 的 1900年2月29日 是个不存在的日期。")
    if serial < 60:
        return date(1899, 12, 31) + timedelta(days=serial)
    return _EXCEL_DAY_ZERO + timedelta(days=serial)


def _make_date(year: int, month: int, day: int, shown: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise QuirkError(f"日期不存在：“{shown}”。") from None


def clean_date(value) -> date | None:
    """A date from a date cell, an Excel serial number or the ways people write dates; None if empty."""
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        raise QuirkError(f"日期一栏填的是“{clean_text(value)}”：{_DATE_HINT}")
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    elif _is_number(value):
        result = _date_from_number(value)
    else:
        text = str(value).strip()
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text).strip()
        text = _BLANKS.sub("", _TIME_SUFFIX.sub("", text.lstrip(_QUOTES)))
        if not text:
            return None
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                result = _make_date(*(int(part) for part in match.groups()), shown=text)
                break
        else:
            if _YEAR_MONTH.match(text) or re.fullmatch(r"\d{4}年?", text):
                raise QuirkError(f"日期“{text}”不完整：请填写年、月、日，如 1985-06-15。")
            if re.fullmatch(r"\d{5}(\.\d+)?", text):  # a serial number exported to CSV
                result = _date_from_number(float(text))
            else:
                raise QuirkError(f"日期“{text}”无法识别：{_DATE_HINT}")
    if result > date.today():
        raise QuirkError(f"日期 {result:%Y-%m-%d} 晚于今天，请核对。")
    return result


def _date_from_number(value) -> date:
    if not math.isfinite(value):
        raise QuirkError(f"日期无法识别：{_DATE_HINT}")
    whole = int(value)
    if 1900 <= whole <= 2100 and value == whole:
        # A year typed into a number cell, not serial 1985 (1905-06-07).
        raise QuirkError(f"日期“{whole}”只有年份：请填写年、月、日，如 {whole}-06-15。")
    if 10000000 <= whole <= 99999999 and value == whole:
        # 20220409 typed into a number cell.
        text = str(whole)
        return _make_date(int(text[:4]), int(text[4:6]), int(text[6:]), shown=text)
    return excel_serial_to_date(whole)


_TRUE = ["是", "√", "✓", "✔", "y", "yes", "true", "1", "有", "对"]
_FALSE = ["否", "×", "✗", "✘", "x", "n", "no", "false", "0", "无", "不是", "非", "没有"]
_TRUE_SET, _FALSE_SET = set(_TRUE), set(_FALSE)


def clean_bool(value) -> bool | None:
    """是/否 and the ways people write it (√/×, Y/N, 1/0, "是（出租）"); None if empty."""
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        return value
    text = clean_text(value).lower()
    if not text:
        return None
    if text in _TRUE_SET:
        return True
    if text in _FALSE_SET:
        return False
    # "是（出租）", "否，自住", "不是流动人口"
    if text.startswith(("否", "不", "非", "无", "没")):
        return False
    if text.startswith(("是", "有")):
        return True
    raise QuirkError(f"“{text}”无法识别：请填“是”或“否”（也可用 √/×、Y/N、1/0）。")


_MALE = {"男", "男性", "m", "male", "1", "♂"}
_FEMALE = {"女", "女性", "f", "female", "2", "♀"}


def clean_sex(value) -> str | None:
    """"M" or "F" (男/女, M/F, male/female, GB/T 2261.1 codes 1/2); None if empty."""
    text = clean_text(value).lower()
    if not text:
        return None
    if text in _MALE:
        return "M"
    if text in _FEMALE:
        return "F"
    raise QuirkError(f"性别“{text}”无法识别：请填“男”或“女”。")


RELATION_WORDS = {
    **dict.fromkeys(["户主", "本人", "户主本人", "户长"], "head"),
    **dict.fromkeys(["配偶", "妻", "夫", "妻子", "丈夫", "爱人", "老伴"], "spouse"),
    **dict.fromkeys(["子", "女", "儿子", "女儿", "子女", "长子", "次子", "三子", "四子", "五子", "独子", "长女",
                     "次女", "三女", "四女", "五女", "独女", "养子", "养女", "继子", "继女", "儿媳", "女婿"], "child"),
    **dict.fromkeys(["父", "母", "父亲", "母亲", "父母", "岳父", "岳母", "公公", "婆婆", "继父", "继母", "养父",
                     "养母", "祖父", "祖母", "外祖父", "外祖母", "爷爷", "奶奶", "外公", "外婆"], "parent"),
    **dict.fromkeys(["孙", "孙子", "孙女", "外孙", "外孙子", "外孙女", "孙子女", "曾孙", "曾孙女", "孙媳",
                     "孙女婿"], "grandchild"),
    **dict.fromkeys(["兄", "弟", "姐", "妹", "哥", "哥哥", "弟弟", "姐姐", "妹妹", "兄弟", "姐妹", "兄弟姐妹",
                     "兄妹", "姐弟"], "sibling"),
    **dict.fromkeys(["租户", "租客", "承租人", "房客"], "tenant"),
    **dict.fromkeys(["其他", "其它", "保姆", "亲属", "其他亲属", "侄子", "侄女", "外甥", "外甥女", "借住",
                     "同住", "朋友", "雇工"], "other"),
}
VULNERABLE_WORDS = {
    **dict.fromkeys(["特困", "特困供养", "特困供养人员", "特困人员", "五保", "五保户"], "extreme_poverty"),
    **dict.fromkeys(["低保", "低保户", "低保对象", "低保人员"], "subsistence"),
    **dict.fromkeys(["孤寡", "孤寡老人", "孤儿"], "widowed_alone"),
    **dict.fromkeys(["残疾", "残疾人", "残障", "残障人士"], "disabled"),
    **dict.fromkeys(["无", "否", "空", "非", "/", "-", "—", "无此情况"], ""),
}
_RELATION_PREFIXES = ("户主之", "户主的", "与户主", "系户主")
_BRACKETED = re.compile(r"[(（\[【].*?[)）\]】]")


def clean_choice(value, synonyms: dict[str, str]) -> str | None:
    """The code SYNONYMS gives the cell's word (a code itself is accepted too); None if empty.

    Also tolerated: "户主之子" / "户主的妻子" and a remark in brackets ("低保（A类）").
    """
    text = clean_text(value)
    if not text:
        return None
    if text in synonyms:
        return synonyms[text]
    candidates = [text, _BRACKETED.sub("", text).strip()]
    for prefix in _RELATION_PREFIXES:
        if text.startswith(prefix):
            candidates.append(text.removeprefix(prefix))
    codes = set(synonyms.values())
    for candidate in candidates:
        if candidate in synonyms:
            return synonyms[candidate]
        if candidate and candidate in codes:
            return candidate
    accepted = "、".join(word for word in _first_words(synonyms) if word)
    raise QuirkError(f"“{text}”无法识别，可填：{accepted}等。")


def _first_words(synonyms: dict[str, str]) -> list[str]:
    """The first (main) word for each code, then further words, at most 12."""
    firsts, rest, seen = [], [], set()
    for word, code in synonyms.items():
        if not word or not word.strip("/-—"):
            continue
        (rest if code in seen else firsts).append(word)
        seen.add(code)
    return (firsts + rest)[:12]
