"""What a register import keeps on disk between its steps, sealed with the data key.

The upload parses the file once and keeps the sheets for the dry run (parsing
a million-row xlsx costs as much as checking every row of it); the dry run
keeps its plan for the commit. Both files sit next to the upload, sealed with
AES-GCM under a key derived from the data key and bound to the upload's
SHA-256 and to what they hold: a file that is missing or does not open is
ignored, and the step reads or plans again from the upload itself.
"""

import gc
import io
import os
import pickle
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fangkong.core import crypto

PURPOSE = b"fangkong-register-files-v1"
NONCE_BYTES = 12
LARGEST = 2**31 - 1  # what one AES-GCM call takes


@contextmanager
def without_gc():
    """Pause the cyclic garbage collector while millions of rows are built or read back.

    Each of its full passes walks every object alive, and a million rows are
    tens of millions of them: pausing it makes reading back a kept file three
    times faster. The rows hold no reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _seal(path: Path, data: bytes, binding: str) -> None:
    if len(data) > LARGEST:
        return  # not kept: the next step reads the upload again
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(crypto.derive_key(PURPOSE)).encrypt(nonce, data, binding.encode())
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        out.write(nonce)
        out.write(sealed)
    partial.replace(path)


def _open(path: Path, binding: str) -> bytes | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return AESGCM(crypto.derive_key(PURPOSE)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], binding.encode())
    except (InvalidTag, ValueError):
        return None


def keep_sheets(path: Path, sheets: list, upload_sha256: str) -> None:
    """Keep the parsed sheets (pickled: cells are str, numbers, dates …) for the dry run."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    # Without the memo of every object pickled (15 times faster here): sheets hold no object twice over
    # that matters, and no reference cycle.
    pickler.fast = True
    with without_gc():
        pickler.dump(sheets)
    _seal(path, out.getbuffer(), f"sheets:{upload_sha256}")


def kept_sheets(path: Path, upload_sha256: str) -> list | None:
    data = _open(path, f"sheets:{upload_sha256}")
    if data is None:
        return None
    with without_gc():
        # Only this module writes these files, sealed under the data key: unpickling them is safe.
        return pickle.loads(data)


def keep(path: Path, data: bytes, binding: str) -> None:
    _seal(path, data, binding)


def kept(path: Path, binding: str) -> bytes | None:
    return _open(path, binding)
