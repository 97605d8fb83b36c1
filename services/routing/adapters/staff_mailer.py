"""The worker that sends staff e-mails (adapters/staff_mail.py): for each due document, claim it,
read the account as it now is (domain/staff_mail.py `gate`: a disabled account or one without an
address gets nothing), render it (templates/mail/, plain text), send it over SMTP (shared/mail.py)
and mark what became of it. A digest document sends the day's items of one person as one mail and
marks them with it. Started by bootstrap.py for the app's lifetime when staff e-mail is on.

Log lines name the mail, the complaint and the kind: never an address.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.routing.domain.staff_mail import ADDRESS_CHANGED, gate
from services.routing.ports import StaffAddresses, StaffMailbox
from services.routing.settings import StaffMailSettings
from shared import clock
from shared.calendar import WIB, last_day, local_text
from shared.categories import CATEGORIES
from shared.faults import is_transient, retry_delay
from shared.mail import DeliveryRefused, new_mail, send_mail
from shared.mail_outbox import run_passes

log = logging.getLogger(__name__)
Document = dict[str, Any]
CLOCK_LABELS = {"response": "tanggapan", "resolution": "penyelesaian", "verification": "verifikasi"}


class StaffTemplates:
    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("services.routing", "templates/mail"),
            # The templates are .txt (plain-text mail, never HTML): not escaped; any .html would be.
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def check(self) -> None:
        for name in self._env.list_templates():
            self._env.get_template(name)

    def _block(self, block: str, context: Mapping[str, Any]) -> str:
        template = self._env.get_template("item.txt")
        return "".join(template.blocks[block](template.new_context(dict(context)))).strip()

    def item(self, mail: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
        """One item's subject, line and facts (as a mail or in a digest)."""
        facts = dict(mail.get("facts") or {})
        opd_id = facts.get("opd_id")
        category = CATEGORIES.get(facts.get("category") or "")
        context = {
            "kind": mail["kind"],
            "complaint_id": mail["complaint_id"],
            "opd": names.get(opd_id, opd_id) if opd_id else None,
            "category": category.name if category else facts.get("category"),
            "clock": CLOCK_LABELS.get(facts.get("clock") or "", facts.get("clock")),
            "due": last_day(facts["due"]) if facts.get("due") else None,
            "level": facts.get("level"),
        }
        return {
            "subject": " ".join(self._block("subject", context).split()),
            "line": self._block("line", context),
            "facts": self._block("facts", context).splitlines(),
        }

    def text(self, name: str, body: str, link: str) -> str:
        return self._env.get_template("mail.txt").render(name=name, body=body, link=link)

    def digest_body(self, items: list[dict[str, Any]]) -> str:
        return self._env.get_template("digest.txt").render(items=items).strip()

    def address_changed(self, mail: Mapping[str, Any], name: str, link: str) -> str:
        facts = mail.get("facts") or {}
        at = datetime.fromisoformat(facts["changed_at"])
        pemda = facts.get("pemda")
        when = local_text(at, pemda) if pemda else at.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")
        template = self._env.get_template("address_changed.txt")
        return template.render(name=name, username=mail["account"], when=when, link=link)


class StaffMailer:
    def __init__(
        self,
        mailbox: StaffMailbox,
        addresses: StaffAddresses,
        settings: StaffMailSettings,
        staff_url: str,
        templates: StaffTemplates | None = None,
    ) -> None:
        self._mailbox = mailbox
        self._addresses = addresses
        self._settings = settings
        self._link = f"{staff_url.rstrip('/')}/staff/"
        self._templates = templates or StaffTemplates()

    async def pass_once(self, limit: int = 50, until: datetime | None = None) -> int:
        """Handle the mails due by `until` (a wall instant; default now); how many were handled."""
        due = await self._mailbox.due(limit, until)
        for mail in due:
            await self.deliver(mail)
        return len(due)

    async def run(self) -> None:
        await run_passes(self.pass_once, self._settings.poll_seconds, "staff mail")

    async def deliver(self, mail: Document) -> None:
        claimed = await self._mailbox.claim(mail, self._settings.lease_seconds)
        if claimed is None:
            return  # another pass or process holds it
        account = await self._addresses.get(mail["account"])
        decision = gate(account, mail)
        items = [mail]
        if mail["kind"] == "digest":
            items = await self._mailbox.digest_items(mail["_id"])
            if not items:
                await self._settle(mail, claimed, "empty", [])
                return
        if not decision.send:
            await self._settle(mail, claimed, decision.state, items, reason=decision.reason)
            return
        assert account is not None
        try:
            message = await self._message(mail, items, account.name, decision.to)
            reference = await send_mail(self._settings, message)
        except DeliveryRefused as exc:
            await self._settle(mail, claimed, "failed", items, reason=_without(decision.to, str(exc)))
            return
        except Exception as exc:
            error = _without(decision.to, repr(exc))[:300]
            if is_transient(exc):
                await self._failed_for_now(mail, claimed, items, error)
                return
            # A bug this mail triggers (a template): set aside as failed, as intake's notifier
            # does, so it does not stop every other one.
            log.error(
                "staff mail %s (%s): set aside after an unexpected error: %s",
                mail["_id"],
                mail["kind"],
                error,
            )
            await self._settle(mail, claimed, "failed", items, reason=error)
            return
        await self._settle(mail, claimed, "sent", items, reference=reference)

    async def _message(self, mail: Document, items: list[Document], name: str, to: str) -> EmailMessage:
        if mail["kind"] == ADDRESS_CHANGED:
            message = new_mail(self._settings, mail["_id"], to, "Alamat e-mail akun staf Anda diubah")
            message.set_content(self._templates.address_changed(mail, name, self._link))
            return message
        return await self._complaint_message(mail, items, name, to)

    async def _complaint_message(
        self, mail: Document, items: list[Document], name: str, to: str
    ) -> EmailMessage:
        opds = sorted({i["facts"]["opd_id"] for i in items if (i.get("facts") or {}).get("opd_id")})
        names = await self._mailbox.opd_names(opds)
        rendered = [self._templates.item(i, names) for i in items]
        if mail["kind"] == "digest":
            subject = f"Ringkasan harian pengaduan {mail['day']}: {len(items)} pemberitahuan"
            body = self._templates.digest_body(rendered)
        else:
            [one] = rendered
            subject, body = one["subject"], "\n".join([one["line"], "", *one["facts"]])
        message = new_mail(self._settings, mail["_id"], to, subject)
        message.set_content(self._templates.text(name, body, self._link))
        return message

    async def _failed_for_now(
        self, mail: Document, claimed: datetime, items: list[Document], error: str
    ) -> None:
        attempts = int(mail.get("attempts", 0)) + 1
        if attempts >= self._settings.max_attempts:
            await self._settle(mail, claimed, "failed", items, reason=f"{attempts} tries: {error}"[:300])
            return
        delay = retry_delay(attempts, self._settings.retry_max_seconds)
        log.warning(
            "staff mail %s (%s): %s; try %d in %.0fs",
            mail["_id"],
            mail["kind"],
            error[:200],
            attempts + 1,
            delay,
        )
        await self._mailbox.retry_later(mail["_id"], claimed, delay, error)

    async def _settle(
        self, mail: Document, claimed: datetime, state: str, items: list[Document], **extra: Any
    ) -> None:
        changes: dict[str, Any] = {"state": state, "at": clock.now(), **extra}
        if mail.get("to"):  # an address-change notice's: no record keeps an address once it is done
            changes["to"] = None
        settled = await self._mailbox.settle(mail["_id"], claimed, changes)
        if mail["kind"] == "digest" and settled:
            await self._mailbox.settle_items([i["_id"] for i in items], changes)
        log.info(
            "staff mail %s: %s (complaint %s, %s)%s",
            mail["_id"], state, mail.get("complaint_id", "-"), mail["kind"],
            "" if settled else "; its lease had passed, not recorded",
        )  # fmt: skip


def _without(address: str, text: str) -> str:
    """A server's reply may quote the address: it stays out of the record and the log."""
    return text.replace(address, "<penerima>") if address else text
