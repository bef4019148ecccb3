"""Undoing what Excel does to register cells, and saying so when it cannot be undone.

Cells come from python-calamine (float, int, date, datetime, str, bool, None)
or from a CSV (str). Each function returns the clean value or raises
QuirkError with a message the grid worker can act on.
"""

import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal

from stdnum.cn import ric


class QuirkError(ValueError):
    """A cell that cannot be used; str() is the message for the error report."""


_SCIENTIFIC = re.compile(r"^[0-9.]+[eE][+-]?[0-9]+$")
_BLANKS = re.compile(r"[\s\u3000\u200b]+")


def clean_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text.lstrip("'").strip()


def _number_text(value) -> str:
    """A numeric cell as the digits Excel shows: it keeps 15 significant digits, zeros after."""
    if isinstance(value, float):
        if not value.is_integer():
            raise QuirkError(f"号码不是整数（{value}），请检查")
        return str(int(Decimal(format(value, ".15g"))))
    return str(value)


def clean_id_number(value) -> str:
    """The document number with Excel's damage undone ("" for an empty cell)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        raise QuirkError("证件号码不能是“是/否”")
    numeric = isinstance(value, (int, float))
    text = _number_text(value) if numeric else unicodedata.normalize("NFKC", str(value))
    text = _BLANKS.sub("", text).lstrip("'").upper()
    if not text:
        return ""
    if _SCIENTIFIC.match(text):
        raise QuirkError(
            f"身份证号被 Excel 转成了科学计数法（{text}），后几位已丢失：请把该列设为“文本”格式后重新填写。")
    if numeric and len(text) >= 16:
        # A number cell: Excel kept 15 significant digits and zeroed the rest.
        raise QuirkError(
            "身份证号被存成了数字，后3位被 Excel 改成了000（Excel 只保留15位有效数字）：请把该列设为“文本”格式后重新填写。")
    if re.fullmatch(r"[0-9]{15}", text):
        raise QuirkError("这是15位旧身份证号，请填写18位身份证号。")
    if re.fullmatch(r"[0-9]{18}", text) and text.endswith("000") and text[-1] != ric.calc_check_digit(text):
        raise QuirkError(
            "身份证号后3位被 Excel 改成了000（Excel 只保留15位有效数字）：请把该列设为“文本”格式后重新填写。")
    if numeric and len(text) == 17:
        raise QuirkError("身份证号只有17位：最后一位 X 在数字格式下丢失了，请按“文本”格式重新填写。")
    return text


def clean_phone(value) -> str:
    if value is None or value == "":
        return ""
    text = _number_text(value) if isinstance(value, (int, float)) else unicodedata.normalize("NFKC", str(value))
    text = _BLANKS.sub("", text).lstrip("'")
    if _SCIENTIFIC.match(text):
        raise QuirkError(f"手机号被 Excel 转成了科学计数法（{text}）：请把该列设为“文本”格式后重新填写。")
    text = re.sub(r"\.0+$", "", text)
    digits = re.sub(r"[-()（）+]", "", text)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


# Excel's day 0 is 1899-12-30 once its fictitious 1900-02-29 (serial 60) is passed.
_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_PATTERNS = [
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]


def clean_date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        serial = int(value)
        if not 1 <= serial <= 2958465 or serial == 60:
            raise QuirkError(f"日期数值 {value} 不是有效的 Excel 日期")
        result = _EXCEL_EPOCH + timedelta(days=serial) if serial > 60 else date(1899, 12, 31) + timedelta(days=serial)
    else:
        text = _BLANKS.sub("", unicodedata.normalize("NFKC", str(value)))
        text = re.sub(r"\s*0:00(:00)?$", "", text)
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                try:
                    result = date(*(int(part) for part in match.groups()))
                except ValueError:
                    raise QuirkError(f"日期“{text}”不存在") from None
                break
        else:
            if re.fullmatch(r"\d{1,5}(\.\d+)?", text):
                return clean_date(float(text))
            raise QuirkError(f"日期“{text}”无法识别，请写成 2022-04-09 或 2022年4月9日")
    if result > date.today():
        raise QuirkError(f"日期 {result:%Y-%m-%d} 晚于今天")
    return result


_TRUE = {"是", "√", "✓", "y", "yes", "true", "1", "有", "对"}
_FALSE = {"否", "×", "x", "n", "no", "false", "0", "无", "不是"}


def clean_bool(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = clean_text(value).lower()
    if not text:
        return None
    if text in _TRUE or text.startswith("是"):
        return True
    if text in _FALSE or text.startswith("否"):
        return False
    raise QuirkError(f"“{text}”应填“是”或“否”")


def clean_sex(value) -> str | None:
    text = clean_text(value).lower()
    if not text:
        return None
    if text in {"男", "m", "male", "1", "男性"}:
        return "M"
    if text in {"女", "f", "female", "2", "女性"}:
        return "F"
    raise QuirkError(f"性别“{text}”应填“男”或“女”")


RELATION_WORDS = {
    **dict.fromkeys(["户主", "本人", "户主本人"], "head"),
    **dict.fromkeys(["配偶", "妻", "夫", "妻子", "丈夫", "爱人"], "spouse"),
    **dict.fromkeys(["子", "女", "儿子", "女儿", "子女", "长子", "次子", "长女", "次女", "三子", "三女", "养子",
                     "养女", "儿媳", "女婿"], "child"),
    **dict.fromkeys(["父", "母", "父亲", "母亲", "父母", "岳父", "岳母", "公公", "婆婆", "祖父", "祖母", "外祖父",
                     "外祖母"], "parent"),
    **dict.fromkeys(["孙子", "孙女", "外孙", "外孙女", "孙子女"], "grandchild"),
    **dict.fromkeys(["兄", "弟", "姐", "妹", "哥哥", "弟弟", "姐姐", "妹妹", "兄弟姐妹"], "sibling"),
    **dict.fromkeys(["租户", "租客", "承租人"], "tenant"),
    **dict.fromkeys(["其他", "其它", "保姆", "亲属", "其他亲属"], "other"),
}
VULNERABLE_WORDS = {
    **dict.fromkeys(["特困", "特困供养", "特困人员", "五保", "五保户"], "extreme_poverty"),
    **dict.fromkeys(["低保", "低保户", "低保对象"], "subsistence"),
    **dict.fromkeys(["孤寡", "孤寡老人", "孤儿"], "widowed_alone"),
    **dict.fromkeys(["残疾", "残疾人", "残障"], "disabled"),
    **dict.fromkeys(["无", "否", "/", "-", "—"], ""),
}


def clean_choice(value, synonyms: dict[str, str]) -> str | None:
    """The code SYNONYMS gives the cell's word; None for an empty cell."""
    text = clean_text(value)
    if not text:
        return None
    if text in synonyms:
        return synonyms[text]
    if text in synonyms.values():
        return text
    accepted = "、".join(w for w in list(synonyms)[:12] if w)
    raise QuirkError(f"“{text}”无法识别，可填：{accepted}等")
