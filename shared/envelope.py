"""The event envelope of DESIGN §6 and the registry that decodes messages by type and version.

Every message on every topic is one JSON `Envelope`. Its `payload` is a frozen model chosen by
`(type, schema_version)`. Old versions still on a topic are upcast, one version at a time, by
functions registered with `@upcaster`, so consumers only ever see the current model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
)
from ulid import ULID

from shared import clock


class Payload(BaseModel):
    """Base of every message payload. Subclasses set `TYPE` and `VERSION` and are registered."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    complaint_id: str | None
    seq: int | None = Field(default=None, ge=1)
    producer: str
    correlation_id: str | None = None
    payload: SerializeAsAny[Payload]

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class DecodeError(ValueError):
    """A message that cannot become an Envelope: the reason goes to the dead-letter topic."""


P = TypeVar("P", bound=type[Payload])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_payloads: dict[tuple[str, int], type[Payload]] = {}
_latest: dict[str, int] = {}  # type → its newest registered version (read on every decode)
_upcasters: dict[tuple[str, int], Upcaster] = {}


def register(cls: P) -> P:
    """Class decorator: make `cls` the payload model of `(cls.TYPE, cls.VERSION)`."""
    key = (cls.TYPE, cls.VERSION)
    if key in _payloads:
        raise ValueError(f"payload {key} registered twice")
    _payloads[key] = cls
    _latest[cls.TYPE] = max(cls.VERSION, _latest.get(cls.TYPE, cls.VERSION))
    return cls


def upcaster(type_: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning a `from_version` payload dict into `from_version + 1`."""

    def deco(fn: Upcaster) -> Upcaster:
        _upcasters[(type_, from_version)] = fn
        return fn

    return deco


def current_version(type_: str) -> int:
    latest = _latest.get(type_)
    if latest is None:
        raise DecodeError(f"unknown message type {type_!r}")
    return latest


def new_event(
    payload: Payload,
    *,
    producer: str,
    complaint_id: str | None,
    seq: int | None = None,
    occurred_at: datetime | None = None,
    correlation_id: str | None = None,
    event_id: str | None = None,
) -> Envelope:
    return Envelope(
        event_id=event_id or str(ULID()),
        type=payload.TYPE,
        schema_version=payload.VERSION,
        occurred_at=occurred_at or clock.now(),
        complaint_id=complaint_id,
        seq=seq,
        producer=producer,
        correlation_id=correlation_id,
        payload=payload,
    )


def decode(raw: bytes | str | dict[str, Any]) -> Envelope:
    """Bytes from a topic → an Envelope with its current payload model, or DecodeError."""
    try:
        data = raw if isinstance(raw, dict) else json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError("envelope is not a JSON object")
    type_ = data.get("type")
    version = data.get("schema_version")
    if not isinstance(type_, str) or not isinstance(version, int):
        raise DecodeError("envelope lacks a string 'type' or an integer 'schema_version'")
    latest = current_version(type_)
    if version > latest:
        raise DecodeError(f"{type_} v{version} is newer than this consumer knows (v{latest})")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise DecodeError("envelope 'payload' is not a JSON object")
    while version < latest:
        step = _upcasters.get((type_, version))
        if step is None:
            raise DecodeError(f"no upcaster for {type_} v{version}")
        payload = step(dict(payload))
        version += 1
    model = _payloads[(type_, latest)]
    try:
        body = model.model_validate(payload)
        return Envelope.model_validate({**data, "schema_version": latest, "payload": body})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DecodeError(f"{type_} v{latest}: {where}: {first['msg']}") from exc
