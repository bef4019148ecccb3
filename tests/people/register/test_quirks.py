"""What Excel does to register cells, undone or explained (issue 3)."""

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from fangkong.people import identity
from fangkong.people.choices import Relation, VulnerableGroup
from fangkong.people.register.quirks import (
    RELATION_WORDS,
    VULNERABLE_WORDS,
    QuirkError,
    clean_bool,
    clean_choice,
    clean_date,
    clean_id_number,
    clean_phone,
    clean_sex,
    clean_text,
)


def resident_id(birth: date = date(1985, 6, 15), seq: int = 123, place: str = "370923") -> str:
    body = f"{place}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


ID = resident_id()  # 370923198506151231-like, checksum valid
ID_X = next(i for i in (resident_id(seq=s) for s in range(1000)) if i.endswith("X"))


def to_full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- clean_text ---------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    (None, ""), ("", ""), (123.0, "123"), (12.5, "12.5"), (7, "7"), ("  张三 ", "张三"), ("\u3000张三\u3000", "张三"),
    ("ＡＢＣ１２３", "ABC123"), ("'0101", "0101"), (True, "是"), (False, "否"), (date(2022, 4, 9), "2022-04-09"),
    (datetime(2022, 4, 9), "2022-04-09"), ("1号楼\t", "1号楼"),
])
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


# --- ID numbers ---------------------------------------------------------------

def test_id_number_clean_passes_through():
    assert clean_id_number(ID) == ID
    assert identity.validate_resident_id(clean_id_number(ID)) == ID


@pytest.mark.parametrize("raw", ["3.70923E+17", "3.70923e17", "3.70923E17", "３．７０９２３Ｅ＋１７", " 3.70923E+17 "])
def test_id_number_in_scientific_notation_text(raw):
    with pytest.raises(QuirkError, match="科学计数法") as err:
        clean_id_number(raw)
    assert "3.70923E+17" in str(err.value) or "3.70923E17" in str(err.value)
    assert "文本" in str(err.value)


def test_id_number_cell_holding_only_the_digits_shown_in_scientific_notation():
    # A register saved as CSV and reopened: only the 6 digits Excel displayed remain.
    with pytest.raises(QuirkError, match=r"科学计数法（3\.70923E\+17）"):
        clean_id_number(3.70923e17)


def test_id_number_stored_as_number_lost_its_last_digits():
    number = float(ID)  # what a number cell holds; Excel keeps 15 significant digits
    with pytest.raises(QuirkError, match="后3位被 Excel 改成了000"):
        clean_id_number(number)
    with pytest.raises(QuirkError, match="改成了000"):
        clean_id_number(float(ID[:15] + "000"))


def test_id_number_text_ending_000_with_a_wrong_checksum():
    damaged = ID[:15] + "000"
    assert damaged[-1] != ric.calc_check_digit(damaged)
    with pytest.raises(QuirkError, match="后3位被 Excel 改成了000"):
        clean_id_number(damaged)


def valid_id_ending_000() -> str:
    """An ID whose sequence ends in 00 and whose check digit is 0 (about one in eleven)."""
    for day in range(1, 29):
        for first in "0123456789":
            body = f"37092319850{day % 9 + 1}{day:02d}{first}00"
            if ric.calc_check_digit(body + "0") == "0":
                return body + "0"
    raise AssertionError("no such ID among the dates tried")


def test_id_number_genuinely_ending_000_is_kept():
    number = valid_id_ending_000()
    assert clean_id_number(number) == number


def test_id_number_lowercase_x():
    assert clean_id_number(ID_X.lower()) == ID_X
    assert identity.validate_resident_id(clean_id_number(ID_X.lower())) == ID_X


def test_id_number_full_width_digits():
    assert clean_id_number(to_full_width(ID_X.lower())) == ID_X
    assert clean_id_number(to_full_width(ID)) == ID


@pytest.mark.parametrize("raw", [
    f" {ID} ", f"{ID}\t", f"\t{ID}", f"{ID[:6]} {ID[6:14]} {ID[14:]}", f"{ID[:6]}\t{ID[6:]}", f"{ID}\u3000",
    f"{ID}\n", f"\ufeff{ID}", f"{ID[:9]}\u200b{ID[9:]}", f"{ID}\xa0",
])
def test_id_number_spaces_and_tabs(raw):
    assert clean_id_number(raw) == ID


@pytest.mark.parametrize("raw", [f"'{ID}", f"＇{ID}", f" '{ID}", f"‘{ID}", f"`{ID}"])
def test_id_number_leading_apostrophe(raw):
    assert clean_id_number(raw) == ID


def test_id_number_old_15_digit():
    with pytest.raises(QuirkError, match="15位"):
        clean_id_number("370923850615123")
    with pytest.raises(QuirkError, match="15位"):
        clean_id_number(370923850615123.0)


def test_id_number_empty_and_other_documents():
    assert clean_id_number(None) == ""
    assert clean_id_number("") == ""
    assert clean_id_number("  ") == ""
    assert clean_id_number("e12345678") == "E12345678"  # a passport number is left for validate_document
    assert clean_id_number(12345678.0) == "12345678"


def test_id_number_odd_cells():
    with pytest.raises(QuirkError, match="日期"):
        clean_id_number(date(1985, 6, 15))
    with pytest.raises(QuirkError):
        clean_id_number(True)


def test_id_number_is_not_fully_validated_here():
    wrong_checksum = ID[:17] + ("1" if ID[17] != "1" else "2")
    assert clean_id_number(wrong_checksum) == wrong_checksum  # identity.validate_resident_id rejects it later
    with pytest.raises(identity.ValidationError):
        identity.validate_resident_id(clean_id_number(wrong_checksum))


@st.composite
def mangled_ids(draw):
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today() - timedelta(days=1)))
    place = draw(st.sampled_from(["370923", "110101", "440305", "370902", "510104"]))
    number = resident_id(birth, draw(st.integers(0, 999)), place)
    text = number
    if draw(st.booleans()):
        text = text.lower()
    if draw(st.booleans()):
        text = to_full_width(text)
    # blanks anywhere, as copy-paste and typing leave them
    blanks = st.sampled_from([" ", "\t", "\u3000", "\xa0", "\n"])
    pieces = list(text)
    for _ in range(draw(st.integers(0, 3))):
        pieces.insert(draw(st.integers(0, len(pieces))), draw(blanks))
    text = "".join(pieces)
    if draw(st.booleans()):
        text = draw(st.sampled_from(["'", "＇"])) + text
    text = draw(st.text(st.sampled_from(" \t\u3000"), max_size=3)) + text + draw(
        st.text(st.sampled_from(" \t\u3000"), max_size=3))
    return number, text


@given(mangled_ids())
def test_property_mangled_valid_ids_come_back_canonical(case):
    number, text = case
    assert clean_id_number(text) == number
    assert identity.validate_resident_id(clean_id_number(text)) == number


# --- phones -------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    (13862345678.0, "13862345678"), (13862345678, "13862345678"), ("13862345678.0", "13862345678"),
    ("+86 138-6234-5678", "13862345678"), ("+8613862345678", "13862345678"), ("0086 13862345678", "13862345678"),
    ("１３８６２３４５６７８", "13862345678"), (" 138 6234 5678\t", "13862345678"), ("'13862345678", "13862345678"),
    ("0538-1234567", "05381234567"), ("(0538)1234567", "05381234567"), (None, ""), ("", ""), ("  ", ""),
])
def test_clean_phone(raw, expected):
    assert clean_phone(raw) == expected


def test_clean_phone_result_validates():
    assert identity.validate_phone(clean_phone(13862345678.0)) == "13862345678"


@pytest.mark.parametrize("raw", ["1.38623E+10", "1.38623e10", "１．３８６２３Ｅ＋１０"])
def test_phone_in_scientific_notation(raw):
    with pytest.raises(QuirkError, match="科学计数法"):
        clean_phone(raw)


# --- dates --------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    (date(2022, 4, 9), date(2022, 4, 9)), (datetime(2022, 4, 9, 8, 30), date(2022, 4, 9)),
    (44660, date(2022, 4, 9)), (44660.0, date(2022, 4, 9)), (44660.75, date(2022, 4, 9)), ("44660", date(2022, 4, 9)),
    (31213.0, date(1985, 6, 15)), (1, date(1900, 1, 1)), (59, date(1900, 2, 28)), (61, date(1900, 3, 1)),
    ("2022年4月9日", date(2022, 4, 9)), ("2022年04月09日", date(2022, 4, 9)), ("2022 年 4 月 9 日", date(2022, 4, 9)),
    ("２０２２年４月９日", date(2022, 4, 9)), ("2022年4月9号", date(2022, 4, 9)), ("2022-04-09", date(2022, 4, 9)),
    ("2022/4/9", date(2022, 4, 9)), ("2022.4.9", date(2022, 4, 9)), ("20220409", date(2022, 4, 9)),
    (20220409.0, date(2022, 4, 9)), ("2022-04-09 00:00:00", date(2022, 4, 9)), ("2022/4/9 8:30", date(2022, 4, 9)),
    ("2022-04-09T00:00:00", date(2022, 4, 9)), ("'2022-04-09", date(2022, 4, 9)),
    (None, None), ("", None), (" ", None),
])
def test_clean_date(raw, expected):
    assert clean_date(raw) == expected


def test_excel_serial_60_is_the_fake_leap_day():
    with pytest.raises(QuirkError, match="不存在"):
        clean_date(60)


@pytest.mark.parametrize("raw", ["2022-02-30", "2022年13月1日", "2021年2月29日", "20220431", 20220230.0])
def test_impossible_dates(raw):
    with pytest.raises(QuirkError, match="日期不存在"):
        clean_date(raw)


@pytest.mark.parametrize("raw", ["1985年6月", "1985-06", "1985/6", "198506", "1985", "1985年", 1985, 1985.0])
def test_incomplete_dates_are_refused(raw):
    with pytest.raises(QuirkError, match="年、月、日"):
        clean_date(raw)


def test_future_dates_are_refused():
    tomorrow = date.today() + timedelta(days=1)
    for raw in (tomorrow, f"{tomorrow:%Y-%m-%d}", (tomorrow - date(1899, 12, 30)).days):
        with pytest.raises(QuirkError, match="晚于今天"):
            clean_date(raw)


@pytest.mark.parametrize("raw", ["去年", "6/15/1985", "abc", 0, -5, True])
def test_unreadable_dates(raw):
    with pytest.raises(QuirkError):
        clean_date(raw)


# --- yes/no, sex, choices -----------------------------------------------------

@pytest.mark.parametrize("raw", ["是", "√", "Y", "y", "yes", "YES", "true", "1", 1.0, 1, True, "是（出租）", "是,出租", "有"])
def test_clean_bool_true(raw):
    assert clean_bool(raw) is True


@pytest.mark.parametrize("raw", ["否", "×", "N", "no", "false", "0", 0.0, False, "无", "不是", "否（自住）", "非"])
def test_clean_bool_false(raw):
    assert clean_bool(raw) is False


def test_clean_bool_empty_and_unknown():
    assert clean_bool(None) is None
    assert clean_bool("") is None
    assert clean_bool(" ") is None
    with pytest.raises(QuirkError, match="“是”或“否”") as err:
        clean_bool("可能")
    assert "√/×" in str(err.value)


@pytest.mark.parametrize(("raw", "expected"), [
    ("男", "M"), ("女", "F"), ("M", "M"), ("f", "F"), ("male", "M"), ("Female", "F"), ("1", "M"), ("2", "F"),
    (1.0, "M"), (2, "F"), (" 男 ", "M"), ("男性", "M"), ("Ｍ", "M"), (None, None), ("", None),
])
def test_clean_sex(raw, expected):
    assert clean_sex(raw) == expected


def test_clean_sex_unknown():
    with pytest.raises(QuirkError, match="“男”或“女”"):
        clean_sex("X")


def test_synonyms_use_the_model_choices():
    assert set(RELATION_WORDS.values()) == set(Relation.values)
    assert set(VULNERABLE_WORDS.values()) == set(VulnerableGroup.values)


@pytest.mark.parametrize(("raw", "expected"), [
    ("户主", "head"), ("本人", "head"), ("妻", "spouse"), ("丈夫", "spouse"), ("长子", "child"), ("次女", "child"),
    ("岳父", "parent"), ("公公", "parent"), ("外孙", "grandchild"), ("妹", "sibling"), ("租客", "tenant"),
    ("保姆", "other"), ("其它", "other"), ("户主之子", "child"), ("户主的妻子", "spouse"), ("spouse", "spouse"),
    (" 配偶 ", "spouse"), (None, None), ("", None),
])
def test_relation_words(raw, expected):
    assert clean_choice(raw, RELATION_WORDS) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("特困", "extreme_poverty"), ("五保户", "extreme_poverty"), ("低保", "subsistence"), ("低保户（A类）", "subsistence"),
    ("孤寡老人", "widowed_alone"), ("孤儿", "widowed_alone"), ("残疾人", "disabled"), ("无", ""), ("否", ""),
    ("空", ""), (None, None),
])
def test_vulnerable_words(raw, expected):
    assert clean_choice(raw, VULNERABLE_WORDS) == expected


def test_clean_choice_unknown_lists_accepted_words():
    with pytest.raises(QuirkError) as err:
        clean_choice("邻居的狗", RELATION_WORDS)
    message = str(err.value)
    assert "邻居的狗" in message
    for word in ("户主", "配偶", "租户", "其他"):
        assert word in message


def test_clean_text_blanks_inside_become_one_space():
    assert clean_text("Room\t101") == clean_text("Room  101") == "Room 101"
    assert clean_text("幸福\u3000\u3000小区") == "幸福 小区"
