"""Place codes and personal tokens: short signed strings, checked without a database write.

A place code is ``<venue id>.<version>.<mac>``: re-issuing a venue's code
bumps the version, which revokes every printed poster at once. A personal
token names a person and the device it was issued to; a scan must present
both the token and that device's own secret, so a token copied to another
phone is refused.
"""

import base64
import hashlib
import hmac

from django.core import signing

from fangkong.core import crypto

PERSONAL_SALT = "fangkong.venues.personal"


def _mac(message: str) -> str:
    key = crypto.derive_key(b"fangkong place code v1")
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()[:15]
    return base64.b32encode(digest).decode().rstrip("=")


def place_code(venue_id: int, version: int) -> str:
    return f"{venue_id}.{version}.{_mac(f'{venue_id}.{version}')}"


def parse_place_code(code: str) -> tuple[int, int] | None:
    """(venue id, version) when the MAC is right, else None (forged or mistyped)."""
    parts = (code or "").strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    venue_id, version = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(parts[2].upper(), _mac(f"{venue_id}.{version}")):
        return None
    return venue_id, version


def device_hash(device_secret: str) -> str:
    return hashlib.sha256(f"fangkong-device:{device_secret}".encode()).hexdigest()[:32]


def personal_token(person_id: int, device_secret: str) -> str:
    return signing.dumps({"p": person_id, "d": device_hash(device_secret)}, salt=PERSONAL_SALT, compress=True)


def parse_personal_token(token: str, device_secret: str) -> int | None:
    """The person id when the token is genuine and was issued to this device, else None."""
    if not token or not device_secret:
        return None
    try:
        data = signing.loads(token, salt=PERSONAL_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not hmac.compare_digest(str(data.get("d", "")), device_hash(device_secret)):
        return None
    person_id = data.get("p")
    return person_id if isinstance(person_id, int) else None
