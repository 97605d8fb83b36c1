"""The NotificationSender port (ports.py): e-mail over SMTP (shared/mail.py) and SMS / WhatsApp through
a gateway's HTTP API. Both keep the notification's id on every resend — the e-mail's Message-ID,
the gateway's `reference` and `Idempotency-Key` — so a message sent again after a crash is
recognised by its receiver as the one it has.

A failure is either the message's own (`DeliveryRefused`: a 5xx SMTP reply, a 4xx from the
gateway; recorded as failed) or transient (`TransientError`: the server unreachable, a 4xx SMTP
reply, a 5xx/429 from the gateway after its retries; the worker tries again later).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from email.message import EmailMessage
from typing import Any

import aiohttp

from services.intake.adapters.notify_templates import Templates
from services.intake.ports import OutgoingMessage
from services.intake.settings import NotifySettings
from shared import clock
from shared.faults import TransientError
from shared.mail import DeliveryRefused, new_mail, send_mail

log = logging.getLogger(__name__)


class SmtpSender:
    channels = frozenset({"email"})

    def __init__(self, settings: NotifySettings) -> None:
        self._settings = settings

    def email(self, message: OutgoingMessage) -> EmailMessage:
        mail = new_mail(self._settings, message.id, message.to, message.subject)
        # One-click opt-out (RFC 8058): the mail client POSTs to the link.
        mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.text)
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html")
        return mail

    async def send(self, message: OutgoingMessage) -> str:
        return await send_mail(self._settings, self.email(message))

    async def close(self) -> None:
        return None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The gateway request's signature: HMAC-SHA256 of `<timestamp>.<body>`, hex."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class GatewaySender:
    """A JSON POST per message: `{reference, channel, to, template, params, text}`, with
    `Authorization: Bearer <key>`, `Idempotency-Key: <reference>`, `X-Timestamp` and
    `X-Signature: sha256=<HMAC of "<timestamp>.<body>" with the key>`. Retried with exponential
    backoff on a connection error, a timeout, 408, 429 or 5xx."""

    def __init__(self, settings: NotifySettings, templates: Templates) -> None:
        self._settings = settings
        self._templates = templates
        self.channels: frozenset[str] = frozenset(settings.gateway_channels)
        self._session: aiohttp.ClientSession | None = None

    def body(self, message: OutgoingMessage) -> bytes:
        payload: dict[str, Any] = {
            "reference": message.id,
            "channel": message.channel,
            "to": message.to,
            "template": self._templates.gateway_template(message.kind),
            "params": dict(message.params),
            "text": message.text,
        }
        return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()

    async def send(self, message: OutgoingMessage) -> str:
        s = self._settings
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=s.gateway_timeout_seconds)
            self._session = aiohttp.ClientSession(timeout=timeout)
        body = self.body(message)
        signing_key = s.gateway_signing_secret or s.gateway_key
        last, wait = "", 0.0
        for attempt in range(max(1, s.gateway_tries)):
            if attempt:
                await asyncio.sleep(wait)  # backoff before the next try
            timestamp = str(int(clock.wall().timestamp()))
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {s.gateway_key}",
                "Idempotency-Key": message.id,
                "X-Timestamp": timestamp,
                "X-Signature": f"sha256={signature(signing_key, timestamp, body)}",
            }
            try:
                post = self._session.post(s.gateway_url, data=body, headers=headers, allow_redirects=False)
                async with post as resp:
                    if 200 <= resp.status < 300:
                        return message.id
                    # The gateway's answer may quote the number: never in a log line.
                    text = (await resp.text())[:200].replace(message.to, "<penerima>")
                    if resp.status not in (408, 429) and resp.status < 500:
                        raise DeliveryRefused(f"gateway {resp.status}: {text}")
                    last = f"gateway {resp.status}: {text}"
                    wait = _retry_after(resp.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                last, wait = f"gateway: {exc!r}", 0.0
            wait = wait or s.gateway_backoff_seconds * 2**attempt
            log.warning("notification %s: %s (try %d of %d)", message.id, last, attempt + 1, s.gateway_tries)
        raise TransientError(last[:300])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _retry_after(value: str | None) -> float:
    """A gateway's Retry-After in seconds (0 when absent or a date), at most 30 s: longer waits
    are the worker's (the notification is tried again later)."""
    if value is None or not value.strip().isdigit():
        return 0.0
    return min(float(value.strip()), 30.0)
