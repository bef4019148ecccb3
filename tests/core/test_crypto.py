import base64

import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from fangkong.core import crypto


def test_encrypt_then_decrypt_returns_the_value():
    assert crypto.decrypt(crypto.encrypt("370923198506150035")) == "370923198506150035"


def test_encrypt_round_trips_chinese_text():
    assert crypto.decrypt(crypto.encrypt("张三 13862345678")) == "张三 13862345678"


def test_empty_value_stays_empty():
    assert crypto.encrypt("") == ""
    assert crypto.decrypt("") == ""
    assert crypto.blind_index("phone", "") == ""


def test_two_encryptions_of_the_same_value_differ():
    first, second = crypto.encrypt("13862345678"), crypto.encrypt("13862345678")
    assert first != second
    assert "13862345678" not in first


def test_tampered_ciphertext_is_refused():
    raw = bytearray(base64.b64decode(crypto.encrypt("13862345678")))
    raw[-1] ^= 1
    with pytest.raises(InvalidTag):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode())


def test_blind_index_is_deterministic():
    assert crypto.blind_index("phone", "13862345678") == crypto.blind_index("phone", "13862345678")
    assert len(crypto.blind_index("phone", "13862345678")) == 40


def test_blind_index_separates_namespaces():
    assert crypto.blind_index("phone", "13862345678") != crypto.blind_index("doc:passport", "13862345678")


def test_blind_index_depends_on_the_key(tmp_path):
    before = crypto.blind_index("phone", "13862345678")
    other_key = base64.urlsafe_b64encode(b"another-test-key-of-32-bytes-ok!").decode()
    with override_settings(FANGKONG_DATA_KEY=other_key):
        crypto.clear_key_cache()
        assert crypto.blind_index("phone", "13862345678") != before
    crypto.clear_key_cache()


def test_missing_key_raises_improperly_configured_in_chinese(tmp_path):
    with override_settings(FANGKONG_DATA_KEY=None, FANGKONG_DATA_KEY_PATH=tmp_path / "data.key"):
        crypto.clear_key_cache()
        with pytest.raises(ImproperlyConfigured, match="未配置数据加密密钥"):
            crypto.encrypt("13862345678")
    crypto.clear_key_cache()


def test_short_key_is_refused(tmp_path):
    short = base64.urlsafe_b64encode(b"too short").decode()
    with override_settings(FANGKONG_DATA_KEY=short):
        crypto.clear_key_cache()
        with pytest.raises(ImproperlyConfigured, match="32 字节"):
            crypto.encrypt("13862345678")
    crypto.clear_key_cache()


def test_key_file_is_written_once_and_used(tmp_path):
    path = tmp_path / "data.key"
    with override_settings(FANGKONG_DATA_KEY=None, FANGKONG_DATA_KEY_PATH=path):
        crypto.clear_key_cache()
        assert crypto.write_key_file_if_missing() is True
        assert crypto.write_key_file_if_missing() is False
        assert path.stat().st_mode & 0o777 == 0o600
        crypto.clear_key_cache()
        assert crypto.decrypt(crypto.encrypt("13862345678")) == "13862345678"
    crypto.clear_key_cache()
