"""Place codes and personal tokens: short signed strings, checked without a database write.

A place code is ``<venue id>.<version>.<mac>``: re-issuing a venue's code
bumps the version, which revokes every printed poster at once. A personal
token names a person and the device it was issued to; a scan must present
both the token and that device's own secret, so a token copied to another
phone is refused.

A person code (个人码) is what the phone shows at a sampling point: it names
the person, carries the time it was drawn and is signed, so the operator's
scanner can read it without the device secret. It is good for
PERSON_CODE_MINUTES after it was drawn; the page draws a new one every minute.
"""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from django.core import signing

from fangkong.core import crypto

PERSONAL_SALT = "fangkong.venues.personal"
PERSON_CODE_PREFIX = "FKP1."  # upper case: parsing upper-cases what the scanner typed
PERSON_CODE_MINUTES = 30


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


def person_code(person_id: int, now: datetime | None = None) -> str:
    """FKP1.<person id>.<unix minute, base 36>.<MAC>: letters and digits only, so a scanner or a
    capitalising keyboard cannot spoil it."""
    minute = int((now or datetime.now(tz=UTC)).timestamp() // 60)
    body = f"{person_id}.{_base36(minute)}"
    return f"{PERSON_CODE_PREFIX}{body}.{_mac('person-code:' + body)}"


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text or "0"


def is_person_code(value: str) -> bool:
    return (value or "").strip().upper().startswith(PERSON_CODE_PREFIX)


def parse_person_code(value: str, at: datetime | None = None) -> tuple[int | None, str]:
    """(person id, "") for a genuine code drawn at most PERSON_CODE_MINUTES before AT (default now);
    else (None, "expired" | "invalid")."""
    raw = (value or "").strip().upper()
    parts = raw[len(PERSON_CODE_PREFIX):].split(".") if raw.startswith(PERSON_CODE_PREFIX) else []
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isalnum():
        return None, "invalid"
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _mac("person-code:" + body)):
        return None, "invalid"
    drawn = datetime.fromtimestamp(int(parts[1], 36) * 60, tz=UTC)
    at = at or datetime.now(tz=UTC)
    if not drawn - timedelta(minutes=5) <= at <= drawn + timedelta(minutes=PERSON_CODE_MINUTES):
        return None, "expired"
    return int(parts[0]), ""
