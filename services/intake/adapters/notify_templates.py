"""The notifications' Indonesian texts: jinja2 templates shipped with the package
(services/intake/templates/notifications/, package data in pyproject.toml).

Each kind has one template (`kinds/<kind>.txt`) with three blocks: `subject`, `body` (the e-mail's
text) and `sms` (short, for SMS and WhatsApp). The e-mail is the body in `email.txt` and, as HTML,
in `email.html`, which autoescapes (its name ends in .html): the body reaches it as plain text
and is escaped line by line, only our own links made clickable. No template ever sees the
reporter's identity: the greeting is "Yth. Pelapor", for anonymous reporters and others alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from services.intake.ports import OutgoingMessage
from shared.calendar import last_day

_URL = re.compile(r"https?://[^\s<>\"]+")


def _linkify(line: str) -> Markup:
    escaped = str(escape(line))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))  # escaped first


@dataclass(frozen=True)
class Links:
    status: str
    feedback: str
    reopen: str
    opt_out: str

    @classmethod
    def of(cls, base_url: str, complaint_id: str, opt_out_token: str, tracking_token: str) -> Links:
        """Links a person can open: the tracking link (its token exchanged for a session cookie and
        a redirect to the complaint, entrypoints/tracking.py) for the status and, until the citizen
        pages give them their own, for rating and reopening too; and the opt-out. `base_url` is
        the configured public base URL (never a request's Host header)."""
        complaint = f"{base_url.rstrip('/')}/api/v1/complaints/{complaint_id}"
        track = f"{complaint}/track?t={tracking_token}"
        return cls(
            status=track,
            feedback=track,
            reopen=track,
            opt_out=f"{complaint}/notifications/opt-out?t={opt_out_token}",
        )


class Templates:
    def __init__(self, gateway_templates: Mapping[str, str] | None = None) -> None:
        self._env = Environment(
            loader=PackageLoader("services.intake", "templates/notifications"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["linkify"] = _linkify
        self._gateway_templates = dict(gateway_templates or {})

    def check(self) -> None:
        """Every template loads (at start-up: a missing package file fails there, not at a send)."""
        for name in self._env.list_templates():
            self._env.get_template(name)

    def _block(self, kind: str, block: str, context: Mapping[str, Any]) -> str:
        template = self._env.get_template(f"kinds/{kind}.txt")
        return "".join(template.blocks[block](template.new_context(dict(context)))).strip()

    def message(
        self,
        notification: Mapping[str, Any],
        to: str,
        links: Links,
        tracking_code: str | None = None,
        pin: str | None = None,
    ) -> OutgoingMessage:
        kind, channel = notification["kind"], notification["channel"]
        context = self.context(notification, links) | {"tracking_code": tracking_code, "pin": pin}
        subject = self._block(kind, "subject", context)
        params = {k: str(v) for k, v in context.items() if k != "links" and v is not None}
        params["link"] = links.status
        if channel != "email":
            return OutgoingMessage(
                id=notification["_id"], channel=channel, kind=kind, to=to, subject=subject,
                text=self._block(kind, "sms", context), html=None, params=params,
                unsubscribe_url=links.opt_out,
            )  # fmt: skip
        body = self._block(kind, "body", context)
        paragraphs = [p.splitlines() for p in body.split("\n\n") if p.strip()]
        text = self._env.get_template("email.txt").render(body=body, links=links)
        html_page = self._env.get_template("email.html")
        html = html_page.render(subject=subject, paragraphs=paragraphs, links=links)
        return OutgoingMessage(
            id=notification["_id"], channel=channel, kind=kind, to=to, subject=subject, text=text,
            html=html, params=params, unsubscribe_url=links.opt_out,
        )  # fmt: skip

    def gateway_template(self, kind: str) -> str:
        return self._gateway_templates.get(kind, f"pengaduan_{kind}")

    @staticmethod
    def context(notification: Mapping[str, Any], links: Links) -> dict[str, Any]:
        facts = dict(notification.get("facts") or {})
        context: dict[str, Any] = {
            "complaint_id": notification["complaint_id"],
            "links": links,
            "opd": facts.get("opd_name") or facts.get("opd_id"),
            "due": last_day(facts["due"]) if facts.get("due") else None,
            "reply_until": last_day(facts["reply_until"]) if facts.get("reply_until") else None,
            "days": facts.get("days"),
            "outcome": facts.get("outcome"),
            "rating": facts.get("rating"),
            "forwarded_to": facts.get("forwarded_to"),
            "merged_into": facts.get("merged_into"),
            "survivor": facts.get("survivor"),
            "what": facts.get("what"),
        }
        return context
