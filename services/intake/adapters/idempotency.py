"""What an Idempotency-Key record keeps (DESIGN §3, issue 15 item 7).

- The record's `_id` is a hash of the key (`key_id`), never the key: the database alone does not
  tell which keys clients used.
- A submit's replay answers with the access token again, so the token is kept, sealed: AES-GCM
  (the `cryptography` package) under a key derived with HKDF-SHA256 from the raw Idempotency-Key
  and the server's secret (`INTAKE_IDEMPOTENCY_SECRET`). Only a request that presents the same key
  to a server that knows the secret opens it; a copy of the database opens nothing. The record's
  id is the associated data, so a sealed token moved to another record does not open either.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.intake.domain.errors import AnswerSealed

_INFO = b"pengaduan intake idempotency access token v1"
_NONCE_BYTES = 12


def key_id(key: str) -> str:
    """The stored id of an Idempotency-Key (or of a command's scoped key)."""
    return hashlib.sha256(f"idempotency:{key}".encode()).hexdigest()


def _cipher(key: str, secret: str) -> AESGCM:
    derived = HKDF(algorithm=SHA256(), length=32, salt=secret.encode(), info=_INFO).derive(key.encode())
    return AESGCM(derived)


def seal(response: Mapping[str, Any], key: str, secret: str) -> dict[str, Any]:
    """The answer to store: the access token sealed (`sealed_token`), and the tracking PIN
    (`sealed_pin`) when there is one; everything else as is."""
    stored = {k: v for k, v in response.items() if k not in ("access_token", "pin")}
    cipher = _cipher(key, secret)
    for name, field in (("access_token", "sealed_token"), ("pin", "sealed_pin")):
        if response.get(name) is None:
            continue
        nonce = os.urandom(_NONCE_BYTES)
        aad = key_id(key).encode() if name == "access_token" else f"{key_id(key)}:{name}".encode()
        stored[field] = nonce + cipher.encrypt(nonce, str(response[name]).encode(), aad)
    return stored


def unseal(stored: Mapping[str, Any], key: str, secret: str) -> dict[str, Any]:
    """The original answer from a stored one (`seal`); AnswerSealed (409) if the token cannot be opened (the
    server's secret changed since: the retry must not get an answer without its token)."""
    response = {k: v for k, v in stored.items() if k not in ("sealed_token", "sealed_pin")}
    cipher = _cipher(key, secret)
    for name, field in (("access_token", "sealed_token"), ("pin", "sealed_pin")):
        if field not in stored:
            continue
        sealed = bytes(stored[field])
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        aad = key_id(key).encode() if name == "access_token" else f"{key_id(key)}:{name}".encode()
        try:
            response[name] = cipher.decrypt(nonce, ciphertext, aad).decode()
        except InvalidTag:
            raise AnswerSealed("Jawaban tersimpan untuk kunci ini tidak dapat dibuka lagi") from None
    return response
