"""ID numbers, phones, masks and pinyin: plain functions, no database."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from fangkong.people import identity
from fangkong.people.choices import DocumentType, Sex
from tests.factories import make_resident_id

GOOD_ID = "370923198506150035"
X_ID = "37092319850615006X"


def with_check_digit(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def error_of(value):
    with pytest.raises(ValidationError) as info:
        identity.validate_resident_id(value)
    return info.value.messages[0]


def test_good_id_validates():
    assert identity.validate_resident_id(GOOD_ID) == GOOD_ID


def test_wrong_checksum_names_the_check_digit():
    assert "校验位" in error_of(GOOD_ID[:-1] + "4")


def test_impossible_birth_date_is_refused():
    assert "出生日期" in error_of(with_check_digit("37092319851315001"))


def test_future_birth_date_is_refused():
    message = error_of(with_check_digit(f"370923{date.today().year + 1}0101001"))
    assert "出生日期" in message and "晚于今天" in message


def test_unknown_birthplace_is_refused():
    assert "出生地" in error_of(with_check_digit("99092319850615001"))


@pytest.mark.parametrize("value", ["37092319850615003", "3709231985061500351", "37092319850615003A", ""])
def test_wrong_length_or_letters_are_refused(value):
    assert "18位" in error_of(value)


def test_lowercase_x_is_upper_cased():
    assert identity.validate_resident_id(X_ID.lower()) == X_ID


@pytest.mark.parametrize(
    "raw",
    [
        "３７０９２３１９８５０６１５００３５",  # full-width digits
        " 370923198506150035 ",
        "370923\t198506150035",
        "370923 1985 0615 0035",
        "'370923198506150035",  # Excel's text marker
        "370923\u3000198506150035",  # ideographic space
    ],
)
def test_common_input_forms_are_normalised(raw):
    assert identity.validate_resident_id(raw) == GOOD_ID


def test_resident_id_facts_give_birth_date_and_sex():
    assert identity.resident_id_facts(GOOD_ID) == (date(1985, 6, 15), Sex.MALE)
    assert identity.resident_id_facts(X_ID)[1] == Sex.FEMALE


def test_other_documents_need_five_to_twenty_letters_or_digits():
    assert identity.validate_document(DocumentType.PASSPORT, "e1234 5678") == "E12345678"
    assert identity.validate_document(DocumentType.NONE, "whatever") == ""
    with pytest.raises(ValidationError, match="5至20位"):
        identity.validate_document(DocumentType.PASSPORT, "E1")


@pytest.mark.parametrize(
    "raw",
    ["13862345678", "13862345678.0", 13862345678.0, "+86 138 6234 5678", "+8613862345678",
     "138-6234-5678", " 13862345678 ", "１３８６２３４５６７８"],
)
def test_phone_forms_are_normalised(raw):
    assert identity.normalize_phone(raw) == "13862345678"
    assert identity.validate_phone(raw) == "13862345678"


def test_landline_with_area_code_is_accepted():
    assert identity.validate_phone("0533-1234567") == "05331234567"


@pytest.mark.parametrize("raw", ["1386234567", "23862345678", "12862345678", "abc"])
def test_bad_phone_is_refused_in_chinese(raw):
    with pytest.raises(ValidationError, match="手机号码"):
        identity.validate_phone(raw)


def test_empty_phone_is_allowed():
    assert identity.validate_phone(None) == ""
    assert identity.validate_phone("") == ""


def test_document_mask_keeps_first_four_and_last_four():
    assert identity.mask_document("370923198506151234") == "3709**********1234"
    assert identity.mask_document("E1234567") == "E******7"
    assert identity.mask_document("") == ""


def test_phone_mask_keeps_first_three_and_last_four():
    assert identity.mask_phone("13862345678") == "138****5678"
    assert identity.mask_phone("12345") == "*****"
    assert identity.mask_phone("") == ""


def test_name_mask():
    assert identity.mask_name("张三") == "张*"
    assert identity.mask_name("欧阳娜娜") == "欧**娜"
    assert identity.mask_name("张") == "张"


def test_name_pinyin_gives_full_pinyin_and_initials():
    assert identity.name_pinyin("张三") == ("zhangsan", "zs")
    assert identity.name_pinyin("吕小明") == ("lvxiaoming", "lxm")


@settings(max_examples=60, deadline=None, database=None)
@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date.today()),
    male=st.booleans(),
    place=st.sampled_from(["370923", "110101", "440305", "510104"]),
)
def test_any_valid_resident_id_validates_and_masks_keep_its_ends(birth, male, place):
    number = make_resident_id(birth=birth, place=place, male=male)
    assert identity.validate_resident_id(number) == number
    assert identity.validate_resident_id(number.lower()) == number
    assert identity.resident_id_facts(number) == (birth, Sex.MALE if male else Sex.FEMALE)
    masked = identity.mask_document(number)
    assert masked[:4] == number[:4] and masked[-4:] == number[-4:]
    assert masked[4:14] == "*" * 10


def test_resident_born_before_the_county_got_its_code_validates():
    # 东平县 has had 370923 since 1985; older residents' cards carry it too.
    number = with_check_digit("37092319500101001")
    assert identity.validate_resident_id(number) == number
