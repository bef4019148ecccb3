"""Encryption at rest for ID numbers and phones, with blind indexes.

Values are sealed with AES-256-GCM under a key derived from
FANGKONG_DATA_KEY; exact lookups use an HMAC-SHA256 blind index under a
second derived key, so the database never holds the plain value.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def write_key_file_if_missing() -> bool:
    """Create var/data.key for a demo install; True if a key was written."""
    path = settings.FANGKONG_DATA_KEY_PATH
    if settings.FANGKONG_DATA_KEY or path.exists():
        return False
    path.write_text(generate_key(), encoding="ascii")
    path.chmod(0o600)
    master_key.cache_clear()
    return True


@lru_cache(maxsize=1)
def master_key() -> bytes:
    raw = settings.FANGKONG_DATA_KEY
    if not raw and settings.FANGKONG_DATA_KEY_PATH.exists():
        raw = settings.FANGKONG_DATA_KEY_PATH.read_text(encoding="ascii").strip()
    if not raw:
        raise ImproperlyConfigured(
            "未配置数据加密密钥：请设置 FANGKONG_DATA_KEY（或运行 fangkong demo 生成 var/data.key）。"
        )
    key = base64.urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4))
    if len(key) != 32:
        raise ImproperlyConfigured("FANGKONG_DATA_KEY 必须是 32 字节的 base64 编码。")
    return key


def _derive(purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master_key())


@lru_cache(maxsize=1)
def _keys() -> tuple[AESGCM, bytes]:
    return AESGCM(_derive(b"fangkong-encrypt-v1")), _derive(b"fangkong-index-v1")


@lru_cache(maxsize=16)
def derive_key(purpose: bytes) -> bytes:
    """A 32-byte key for one purpose (place-code MACs …), derived from the data key."""
    return _derive(purpose)


def clear_key_cache() -> None:
    master_key.cache_clear()
    _keys.cache_clear()
    derive_key.cache_clear()


def encrypt(value: str) -> str:
    if not value:
        return ""
    aead, _ = _keys()
    nonce = os.urandom(NONCE_BYTES)
    sealed = aead.encrypt(nonce, value.encode("utf-8"), None)
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(token: str) -> str:
    if not token:
        return ""
    aead, _ = _keys()
    raw = base64.b64decode(token)
    return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode("utf-8")


def blind_index(kind: str, value: str) -> str:
    """A keyed hash of VALUE for exact lookup; KIND separates the namespaces."""
    if not value:
        return ""
    _, index_key = _keys()
    return hmac.new(index_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:40]
