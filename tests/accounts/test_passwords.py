import re

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from fangkong.accounts.validators import CharacterClassValidator

CJK = re.compile(r"[\u4e00-\u9fff]")


def messages_for(password):
    with pytest.raises(ValidationError) as info:
        validate_password(password)
    return info.value.messages


@pytest.mark.parametrize(
    "password",
    ["password123", "Ab1!", "abcdefghijkl", "123456789012",
     "ABCDEFGHIJKLM"],
)
def test_weak_password_is_refused_in_chinese(password):
    messages = messages_for(password)
    assert messages
    assert all(CJK.search(m) for m in messages), messages


def test_common_password_is_refused():
    assert any("常见" in m for m in messages_for("password123"))


def test_short_password_is_refused():
    assert any("10" in m for m in messages_for("Ab1!xyz"))


def test_single_class_password_is_refused():
    assert any("至少三类" in m for m in messages_for("abcdefghijklmn"))


def test_two_classes_are_not_enough():
    with pytest.raises(ValidationError, match="至少三类"):
        CharacterClassValidator().validate("abcdefgh12")


def test_strong_password_passes():
    validate_password("Fangkong-2026!")
    assert CJK.search(CharacterClassValidator().get_help_text())
