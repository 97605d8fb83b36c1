"""The worker that drains the notifications (adapters/notifications.py): for each due one, claim it,
ask the domain whether it may still go out (opt-out, a reminder's request answered), count it
against the address's daily cap, render it (adapters/notify_templates.py), send it
(adapters/senders.py) and mark what became of it. Started by bootstrap.py for the app's lifetime
when notifications are on.

Log lines name the notification, the complaint, the kind and the channel: never an address.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.intake.adapters.notify_templates import Links, Templates
from services.intake.adapters.tracking import open_pin
from services.intake.domain.notifications import address_for, address_key, gate, opt_out_token
from services.intake.domain.tracking import link_token
from services.intake.ports import NotificationSender, NotificationStore, OpdNames
from services.intake.settings import NotifySettings
from shared import clock
from shared.calendar import WIB
from shared.faults import is_transient, retry_delay
from shared.mail import DeliveryRefused
from shared.mail_outbox import run_passes

log = logging.getLogger(__name__)
Document = dict[str, Any]


class Notifier:
    def __init__(
        self,
        store: NotificationStore,
        senders: Sequence[NotificationSender],
        templates: Templates,
        settings: NotifySettings,
        base_url: str,
        tracking_key: str = "",
        names: OpdNames | None = None,
    ) -> None:
        self._store = store
        self._names = names
        self._senders = {channel: sender for sender in senders for channel in sender.channels}
        self._templates = templates
        self._settings = settings
        self._base_url = base_url
        self._tracking_key = tracking_key

    async def pass_once(self, limit: int = 50) -> int:
        """Handle the notifications due now; how many were handled."""
        due = await self._store.due(limit)
        for notification in due:
            await self.deliver(notification)
        return len(due)

    async def run(self) -> None:
        """For ever (shared/mail_outbox.py `run_passes`)."""
        await run_passes(self.pass_once, self._settings.poll_seconds, "notifications")

    async def close(self) -> None:
        for sender in set(self._senders.values()):
            await sender.close()

    async def deliver(self, notification: Document) -> None:
        claimed = await self._store.claim(notification, self._settings.lease_seconds)
        if claimed is None:
            return  # another pass or instance holds it
        nid = notification["_id"]
        complaint = await self._store.recipient(notification["complaint_id"])
        decision = gate(notification, complaint)
        if not decision.send:
            await self._settle(notification, claimed, decision.state, reason=decision.reason)
            return
        assert complaint is not None
        to = address_for(notification["channel"], complaint.get("reporter") or {})
        sender = self._senders.get(notification["channel"])
        if sender is None:
            await self._settle(notification, claimed, "failed", reason="no sender for this channel")
            return
        day = clock.now().astimezone(WIB).date().isoformat()
        place = await self._store.count_toward_cap(address_key(self._settings.secret, to), day, nid)
        if place > self._settings.daily_cap:
            reason = f"over {self._settings.daily_cap} today"
            await self._settle(notification, claimed, "capped", reason=reason)
            return
        complaint_id = notification["complaint_id"]
        links = Links.of(
            self._base_url,
            complaint_id,
            opt_out_token(self._settings.secret, complaint_id),
            link_token(self._tracking_key, complaint_id),
        )
        if self._names is not None and (notification.get("facts") or {}).get("opd_id"):
            # The OPD as the reporter reads it: its current name from routing's catalog.
            name = await self._names.name_of(notification["facts"]["opd_id"])
            if name:
                notification = {**notification, "facts": {**notification["facts"], "opd_name": name}}
        try:
            pin = None
            if notification["kind"] == "received":
                pin = open_pin(self._tracking_key, complaint_id, complaint.get("pin_sealed"))
            message = self._templates.message(notification, to, links, complaint.get("tracking_code"), pin)
            reference = await sender.send(message)
        except DeliveryRefused as exc:
            await self._settle(notification, claimed, "failed", reason=_without(to, str(exc)))
            return
        except Exception as exc:
            if is_transient(exc):
                await self._failed_for_now(notification, claimed, _without(to, repr(exc)))
                return
            # A bug this notification triggers (a template, a sender): set aside as failed, as
            # the outbox relay sets aside what Kafka refuses, so it does not stop every other one.
            log.error(
                "notification %s (%s, %s): set aside after an unexpected error: %s",
                nid, notification["kind"], notification["channel"], _without(to, repr(exc))[:300],
            )  # fmt: skip
            await self._settle(notification, claimed, "failed", reason=_without(to, repr(exc))[:300])
            return
        await self._settle(notification, claimed, "sent", reference=reference)

    async def _failed_for_now(self, notification: Document, claimed: datetime, error: str) -> None:
        attempts = int(notification.get("attempts", 0)) + 1
        if attempts >= self._settings.max_attempts:
            await self._settle(notification, claimed, "failed", reason=f"{attempts} tries: {error}"[:300])
            return
        delay = retry_delay(attempts, self._settings.retry_max_seconds)
        log.warning(
            "notification %s (%s, %s): %s; try %d in %.0fs",
            notification["_id"], notification["kind"], notification["channel"], error[:200],
            attempts + 1, delay,
        )  # fmt: skip
        await self._store.retry_later(notification["_id"], claimed, delay, error[:300])

    async def _settle(self, notification: Document, claimed: datetime, state: str, **extra: Any) -> None:
        changes: Mapping[str, Any] = {"state": state, "at": clock.now(), **extra}
        settled = await self._store.settle(notification["_id"], claimed, changes)
        if notification["kind"] == "received":
            await self._store.forget_pin(notification["complaint_id"])
        log.info(
            "notification %s: %s (complaint %s, %s, %s)%s",
            notification["_id"], state, notification["complaint_id"], notification["kind"],
            notification["channel"], "" if settled else "; its lease had passed, not recorded",
        )  # fmt: skip


def _without(address: str, text: str) -> str:
    """A server's reply may quote the address: it stays out of the record and the log."""
    return text.replace(address, "<penerima>") if address else text
