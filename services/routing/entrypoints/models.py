"""The staff API's request bodies (pydantic): read by the views, documented by openapi/."""

from __future__ import annotations

import binascii

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator
from standardwebhooks.webhooks import EmptyWebhookSecretError

from services.routing.adapters.webhooks import standard_headers
from shared import clock
from shared.events import Tier


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageBody(_Body):
    message: str = Field(min_length=1, max_length=4000)


class ResolveBody(_Body):
    answer: str = Field(min_length=1, max_length=4000)


class TierBody(_Body):
    tier: Tier


class TransferBody(_Body):
    to_opd_id: str = Field(min_length=3, max_length=80)
    reason: str = Field(min_length=5, max_length=1000)


class DisposeBody(_Body):
    opd_id: str = Field(min_length=3, max_length=80)
    category: str | None = None


class ArchiveBody(_Body):
    reason: str = Field(min_length=5, max_length=1000)
    forwarded_to: str | None = Field(default=None, max_length=200)


class UpdateBody(_Body):
    category: str | None = None
    region_code: str | None = None
    anonymous: bool | None = None
    confidential: bool | None = None


class MergeBody(_Body):
    into: str = Field(min_length=1, max_length=80)  # the survivor's id
    reason: str | None = Field(default=None, max_length=1000)


class DuplicateItem(BaseModel):
    """One suggested duplicate as staff see it: never its reporter, text or attachments."""

    id: str
    status: str
    category: str | None
    opd_id: str | None
    submitted_at: str
    similarity: float
    distance_m: int | None  # null when compared by desa (one of the two has no location)
    direction: str  # `earlier`: this complaint may repeat it; `later`: it may repeat this one


class DuplicatesPage(BaseModel):
    items: list[DuplicateItem]
    next_cursor: None = None


class MergeResult(BaseModel):
    merged: dict[str, object]  # the duplicate's staff view (status closed, merged_into set)
    into: dict[str, object]  # the survivor's staff view


class NoteBody(_Body):
    text: str = Field(min_length=1, max_length=4000)


class WebhookBody(_Body):
    # A public http(s) address (or one in ROUTING_WEBHOOK_ALLOWED_NETWORKS): every address its
    # name resolves to is checked here and again at each delivery (services/routing/adapters/webhooks.py).
    url: HttpUrl
    # HMAC key of `X-Pengaduan-Signature` and of the Standard Webhooks `webhook-signature`
    # (a `whsec_<base64>` secret is used as Standard Webhooks libraries read it).
    secret: str = Field(min_length=16, max_length=200)

    @field_validator("secret")
    @classmethod
    def _usable(cls, value: str) -> str:
        if value.startswith("whsec_"):
            try:
                standard_headers(value, "uji", b"", clock.wall())
            except (ValueError, binascii.Error, EmptyWebhookSecretError):
                raise ValueError("secret whsec_ harus berisi base64 yang sah") from None
        return value


class RuleBody(_Body):
    opd_slug: str = Field(min_length=2, max_length=60)
    note: str | None = Field(default=None, max_length=500)


class OpdBody(_Body):
    name: str = Field(min_length=3, max_length=200)


class ExplainRequest(BaseModel):
    """The body of a submit; only what routing decides on is read, the rest is accepted."""

    model_config = ConfigDict(extra="ignore")
    category: str | None = None
    region_code: str
    title: str = ""
    description: str = ""
