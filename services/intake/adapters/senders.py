"""The NotificationSender port (ports.py): e-mail over SMTP (aiosmtplib) and SMS / WhatsApp through
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
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiohttp
import aiosmtplib

from services.intake.adapters.notify_templates import Templates
from services.intake.ports import DeliveryRefused, OutgoingMessage
from services.intake.settings import NotifySettings
from shared import clock
from shared.faults import TransientError

log = logging.getLogger(__name__)
# Header lines up to RFC 5322's limit: a long List-Unsubscribe URL must stay one URL, not be folded
# into encoded words (which mail clients do not read as a link).
_SMTP_POLICY = policy.SMTP.clone(max_line_length=998)


class SmtpSender:
    channels = frozenset({"email"})

    def __init__(self, settings: NotifySettings) -> None:
        self._settings = settings

    def email(self, message: OutgoingMessage) -> EmailMessage:
        s = self._settings
        mail = EmailMessage()
        mail["From"] = s.mail_from
        mail["To"] = message.to
        # One line whatever the template's parts carry (a header with a line break is refused).
        mail["Subject"] = " ".join(message.subject.split())
        mail["Date"] = format_datetime(clock.wall())
        # The id's colons are not allowed left of the @ (RFC 5322 dot-atom): dots instead.
        mail["Message-ID"] = f"<{message.id.replace(':', '.')}@{s.message_id_domain}>"
        mail["Auto-Submitted"] = "auto-generated"
        # One-click opt-out (RFC 8058): the mail client POSTs to the link.
        mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.text)
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html")
        return mail

    async def send(self, message: OutgoingMessage) -> str:
        s = self._settings
        mail = self.email(message)
        sender = parseaddr(s.mail_from)[1]
        try:
            await aiosmtplib.send(
                mail.as_bytes(policy=_SMTP_POLICY),
                sender=sender,
                recipients=[message.to],
                hostname=s.smtp_host,
                port=s.smtp_port,
                start_tls=s.smtp_starttls,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                cert_bundle=s.smtp_ca_file or None,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(code >= 500 for code in codes):
                raise DeliveryRefused(f"SMTP refused the recipient: {codes}") from None
            raise TransientError(f"SMTP deferred the recipient: {codes}") from None
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500 and exc.code not in (530, 535):  # auth/TLS setup is ours to fix
                raise DeliveryRefused(f"SMTP {exc.code}: {exc.message[:200]}") from None
            raise TransientError(f"SMTP {exc.code}: {exc.message[:200]}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientError(f"SMTP: {exc!r}"[:300]) from None
        return str(mail["Message-ID"])

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
