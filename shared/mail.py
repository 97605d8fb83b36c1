"""E-mail over SMTP (aiosmtplib), for every service that sends mail: intake's notifications to the
reporter and routing's to staff. One set of settings (`SmtpSettings`, mixed into each service's
own prefixed settings class), one send with one reading of the server's replies.

A message keeps its id on every resend — its Message-ID is `<id>@<message_id_domain>` — so a
message sent again after a crash (sent, then the process died before it was marked) is the one
the receiver has already: mail systems and clients show it once.

A failure is either the message's own (`DeliveryRefused`: a 5xx reply about it, the recipient
refused for good; recorded as failed) or transient (`TransientError`: the server unreachable, a
4xx reply, an authentication or TLS set-up problem, which is ours to fix; tried again later).
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
from pydantic import BaseModel

from shared import clock
from shared.faults import TransientError

# Header lines up to RFC 5322's limit: a long List-Unsubscribe URL must stay one URL, not be folded
# into encoded words (which mail clients do not read as a link).
SMTP_POLICY = policy.SMTP.clone(max_line_length=998)


class DeliveryRefused(Exception):
    """The receiving side refuses this message for what it is (a 5xx SMTP reply, a 4xx from a
    gateway): a retry cannot cure it. Anything transient is a shared.faults.TransientError."""


class SmtpSettings(BaseModel):
    """The SMTP server and the mail's sender, in each service's settings under its own prefix
    (`INTAKE_NOTIFY_SMTP_HOST`, `ROUTING_MAIL_SMTP_HOST`, …): both may name the same server."""

    # E-mail over SMTP (aiosmtplib): STARTTLS on the submission port by default. Empty: no e-mail.
    smtp_host: str = ""
    # The SMTP server's port (587: submission with STARTTLS).
    smtp_port: int = 587
    # Upgrade the SMTP connection with STARTTLS before authenticating and sending.
    smtp_starttls: bool = True
    # A CA bundle (PEM file) to verify the SMTP server's certificate with; empty: the system's.
    smtp_ca_file: str = ""
    # SMTP AUTH user (empty: no AUTH).
    smtp_username: str = ""
    # SMTP AUTH password (with the user above), best from `<PREFIX>SMTP_PASSWORD_FILE`.
    smtp_password: str = ""
    # Longest wait for the SMTP server per connection or command before the send is deferred and
    # retried.
    smtp_timeout_seconds: float = 20.0
    # The From of every e-mail (the pemda's address; its domain's SPF/DKIM must allow this server).
    mail_from: str = "Layanan Pengaduan <pengaduan@localhost>"
    # The right-hand side of the Message-ID (`<message id>@<domain>`).
    message_id_domain: str = "pengaduan.localhost"


def new_mail(settings: SmtpSettings, message_id: str, to: str, subject: str) -> EmailMessage:
    """The headers every automatic mail carries; the caller sets the content."""
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    # One line whatever the template's parts carry (a header with a line break is refused).
    mail["Subject"] = " ".join(subject.split())
    mail["Date"] = format_datetime(clock.wall())
    # The id's colons are not allowed left of the @ (RFC 5322 dot-atom): dots instead.
    mail["Message-ID"] = f"<{message_id.replace(':', '.')}@{settings.message_id_domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    return mail


async def send_mail(settings: SmtpSettings, mail: EmailMessage) -> str:
    """Send one mail to its `To`; its Message-ID. `DeliveryRefused` or `TransientError`."""
    try:
        await aiosmtplib.send(
            mail.as_bytes(policy=SMTP_POLICY),
            sender=parseaddr(settings.mail_from)[1],
            recipients=[str(mail["To"])],
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            cert_bundle=settings.smtp_ca_file or None,
            timeout=settings.smtp_timeout_seconds,
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
