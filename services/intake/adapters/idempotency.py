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
    """The answer to store: the access token sealed (`sealed_token`), everything else as is."""
    stored = {k: v for k, v in response.items() if k != "access_token"}
    nonce = os.urandom(_NONCE_BYTES)
    token = str(response["access_token"]).encode()
    stored["sealed_token"] = nonce + _cipher(key, secret).encrypt(nonce, token, key_id(key).encode())
    return stored


def unseal(stored: Mapping[str, Any], key: str, secret: str) -> dict[str, Any]:
    """The original answer from a stored one (`seal`); AnswerSealed (409) if the token cannot be opened (the
    server's secret changed since: the retry must not get an answer without its token)."""
    response = {k: v for k, v in stored.items() if k != "sealed_token"}
    sealed = bytes(stored["sealed_token"])
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    try:
        token = _cipher(key, secret).decrypt(nonce, ciphertext, key_id(key).encode())
    except InvalidTag:
        raise AnswerSealed("Jawaban tersimpan untuk kunci ini tidak dapat dibuka lagi") from None
    response["access_token"] = token.decode()
    return response
