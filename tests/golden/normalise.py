"""Normalisation of a recorded scenario: what depends on the run (ids, tokens, instants) becomes a
stable placeholder; everything else (statuses, field names, messages, dues, redaction) is kept.

- Ids: ULIDs (complaints, commands, events, attachments, audit records), and every string held
  under a key naming a token, cursor or etag (access tokens, Open311 tokens, cursors), become
  `<id:N>`, numbered by first appearance in the record (walked in sorted-key order, the order of
  the written file), so the same id is the same placeholder everywhere: relations are kept. Ids
  inside longer strings (URLs, clock ids, feed entry ids, messages) are replaced in place.
- Instants: an RFC 3339 instant that falls inside the run's window (on the stack's clock, or on
  the wall clock for what is scheduled by it), widened by a few minutes before and 35 minutes
  after (a claim's 30-minute lease ends then), becomes `<t>`; instants outside it — the dues,
  computed on the working-day calendar from a holiday, so the same whenever the run was — are
  kept as they are. So are the local times people read (`06-12-2026 14:30 WIB`, shared/calendar.py
  `local_text`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ULID = re.compile(r"(?<![0-9A-Za-z])[0-7][0-9A-HJKMNP-TV-Z]{25}(?![0-9A-Za-z])")
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})")
LOCAL_INSTANT = re.compile(r"\b\d{2}-\d{2}-\d{4} \d{2}:\d{2}(?::\d{2})? (?:WIB|WITA|WIT)\b")
ZONES = {"WIB": ZoneInfo("Asia/Jakarta"), "WITA": ZoneInfo("Asia/Makassar"), "WIT": ZoneInfo("Asia/Jayapura")}
# Keys whose string values are opaque per-run values as a whole.
OPAQUE_KEY = re.compile(r"(token|cursor|etag|secret|csrf|tracking_code|^pin)$", re.IGNORECASE)
# A staff password link's one-time token (routing's /staff/atur-sandi/<token>).
STAFF_LINK = re.compile(r"(?<=/staff/atur-sandi/)[A-Za-z0-9_-]{20,}")


class Window:
    """The instants of one run: [start - before, end + after] on each of the given clocks."""

    def __init__(
        self,
        *spans: tuple[datetime, datetime],
        before: timedelta = timedelta(minutes=5),
        after: timedelta = timedelta(minutes=35),
    ) -> None:
        self.spans = [(start - before, end + after) for start, end in spans]

    def __contains__(self, instant: datetime) -> bool:
        return any(start <= instant <= end for start, end in self.spans)


class Normaliser:
    def __init__(self, window: Window, urls: dict[str, str] | None = None) -> None:
        self.window = window
        self.ids: dict[str, str] = {}
        # The services' base URLs carry the test slot's ports: `<intake-url>`, … instead.
        self.urls = {url: f"<{name}-url>" for name, url in (urls or {}).items()}

    def placeholder(self, value: str) -> str:
        if value not in self.ids:
            self.ids[value] = f"<id:{len(self.ids) + 1}>"
        return self.ids[value]

    def _instant(self, match: re.Match[str]) -> str:
        text = match.group(0)
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
        except ValueError:
            return text
        return "<t>" if parsed.tzinfo is not None and parsed in self.window else text

    def _local_instant(self, match: re.Match[str]) -> str:
        shown, zone = match.group(0).rsplit(" ", 1)
        layout = "%d-%m-%Y %H:%M:%S" if shown.count(":") == 2 else "%d-%m-%Y %H:%M"
        parsed = datetime.strptime(shown, layout).replace(tzinfo=ZONES[zone])
        return "<t>" if parsed in self.window else match.group(0)

    def text(self, value: str, key: str | None = None) -> str:
        if key is not None and OPAQUE_KEY.search(key) and value and not value.startswith("<"):
            return self.placeholder(value)
        for url, name in self.urls.items():
            value = value.replace(url, name)
        known = [v for v in self.ids if len(v) >= 12 and v in value and not ULID.fullmatch(v)]
        for v in sorted(known, key=len, reverse=True):
            value = value.replace(v, self.ids[v])
        value = ULID.sub(lambda m: self.placeholder(m.group(0)), value)
        value = STAFF_LINK.sub(lambda m: self.placeholder(m.group(0)), value)
        return LOCAL_INSTANT.sub(self._local_instant, INSTANT.sub(self._instant, value))

    def __call__(self, data: Any, key: str | None = None) -> Any:
        if isinstance(data, dict):
            return {k: self(data[k], k) for k in sorted(data)}
        if isinstance(data, list):
            return [self(item, key) for item in data]
        if isinstance(data, str):
            return self.text(data, key)
        return data
