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
    # A name people read in pages, CSV and e-mail subjects: one line, no control characters.
    name: str = Field(min_length=3, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")


class ExplainRequest(BaseModel):
    """The body of a submit; only what routing decides on is read, the rest is accepted."""

    model_config = ConfigDict(extra="ignore")
    category: str | None = None
    region_code: str
    title: str = ""
    description: str = ""


class AcceptSuggestionBody(_Body):
    note: str | None = Field(default=None, max_length=500)  # why, kept in the audit


class RejectSuggestionBody(_Body):
    reason: str = Field(min_length=5, max_length=500)  # why not, kept in the audit


class ExplainingTransfer(BaseModel):
    """One transfer behind a suggestion: the complaint, when, and the OPD's reason (contacts
    masked); never anything of the reporter."""

    complaint_id: str
    at: str
    reason: str


class RuleSuggestion(BaseModel):
    id: str
    pemda: str
    category: str
    from_opd_id: str
    to_opd_id: str
    current_opd_id: str | None  # where the pemda's rule sends the category now (None: the table)
    transfers: int  # counted: inside the window and since the last decision
    window_days: int
    first_at: str
    last_at: str
    rule: str  # the override an acceptance writes
    explained_by: list[ExplainingTransfer]


class RuleSuggestionList(BaseModel):
    items: list[RuleSuggestion]
    next_cursor: str | None = None


class SuggestionDecision(BaseModel):
    id: str
    pemda: str
    verdict: str  # accepted | rejected
    by: str
    at: str
    note: str | None
    complaint_ids: list[str]
    rule: str | None  # the override now in force (accepted only)


# The answers (what the views send; the OpenAPI document's response schemas).


class StaffComplaint(BaseModel):
    """A complaint as staff see it (edge.py's `staff_view`): never the reporter's identity."""

    id: str
    status: str
    status_label: str
    seq: int
    title: str
    description: str
    category: str | None
    region_code: str
    pemda: str
    opd_id: str | None
    classification: str | None
    anonymous: bool
    confidential: bool
    tier: str
    transfers: int
    sla_due: str | None
    claimed_by: str | None
    lease_until: str | None
    submitted_at: str
    updated_at: str | None
    merged_into: str | None = None  # a duplicate closed by a merge: the complaint it joined


class StaffComplaintPage(BaseModel):
    items: list[StaffComplaint]
    next_cursor: str | None


class Note(BaseModel):
    complaint_id: str
    opd_id: str | None
    by: str
    role: str
    text: str
    at: str


class NotePage(BaseModel):
    items: list[Note]
    next_cursor: None


class FeedEntry(BaseModel):
    """One change of an OPD's complaint (adapters/feed.py); `id` tells a repeated entry."""

    model_config = ConfigDict(extra="allow")
    id: str
    complaint_id: str
    opd_id: str
    type: str
    state: str | None = None
    seq: int | None = None
    at: str
    data: dict[str, object]


class FeedPage(BaseModel):
    items: list[FeedEntry]
    next_cursor: str | None


class WebhookRegistered(BaseModel):
    opd_id: str
    url: str


class Delivery(BaseModel):
    """One push to an OPD's webhook (adapters/webhooks.py)."""

    model_config = ConfigDict(extra="allow")
    opd_id: str
    at: str
    url: str
    entries: int
    first: str
    last: str
    status: int | None
    error: str | None
    ok: bool
    attempt: int


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: None


class Decision(BaseModel):
    """Where a complaint would be routed, and by which rule."""

    category: str
    confidence: float
    level: str
    pemda: str
    opd_id: str
    rule: str


class RuleSet(BaseModel):
    pemda: str
    category: str
    opd_id: str
    rule: str


class OpdNamed(BaseModel):
    opd_id: str
    name: str
