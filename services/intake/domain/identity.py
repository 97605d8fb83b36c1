"""Who may see what of a reporter, and the reporter's identity kept out of texts (DESIGN §3).

A bearer credential is either the reporter's access token (random, stored hashed) or a staff
JWT; they are told apart by shape (`looks_like_jwt`: a citizen token is URL-safe base64, no dots).

- Reporter: the token matches the complaint's hash.
- Staff in scope (`Staff.covers` of the complaint's current OPD and pemda): the staff view.
- Staff out of scope see no more than the public (the public view, or 404 when confidential).
- Anyone else: the public view; a wrong citizen token is a 401 (a 404 when confidential, so a
  confidential complaint's existence is not confirmed).

`GET /api/v1/complaints/{id}/reporter` returns the identity to staff who may read it: for an
anonymous complaint only the coordinators of the complaint's pemda (and admins); otherwise staff
in scope. Every attempt — allowed or refused, even for an unknown id — is written to the
`identity_audit` collection before anything is answered; if the audit cannot be written, nothing is
shown.

Identity the reporter writes into their own text (their name, phone or e-mail in the description,
in added information…) is replaced by `[identitas pelapor]` in every copy that leaves the reporter's
own view: the messages on Kafka and the staff and public views. So the audited endpoint stays the
only way staff learn who reported, whatever the reporter typed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.calendar import pemda_of
from shared.privacy import NIK_MASK, mask_contacts, mask_nik, replace_numbers

if TYPE_CHECKING:  # the staff member's claims, checked by the edge (shared.auth is HTTP)
    from shared.auth import Staff


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


REDACTED = "[identitas pelapor]"


@dataclass(frozen=True)
class Redactor:
    """The reporter's own identity, ready to be taken out of texts (build once per submission).

    Linear in the text (issue 15). The name and e-mail are literal alternatives whose only
    quantifier is the ``\\s+`` between a name's parts, followed by a literal that cannot be
    whitespace: no nested or overlapping quantifiers, so Python's engine stays linear (and here it
    is faster than `google-re2`, whose Python binding pays a fixed cost per match, and a text can
    hold many matches). The phone is found by `replace_numbers`' scan, in
    any grouping and with ``+62``, ``62`` or ``0``. NIK-shaped numbers are always masked (the model
    has no NIK field, so the NIK a reporter gives is the one they write; DESIGN §3 counts it as
    identity, and an office has none).
    """

    words: re.Pattern[str] | None
    phone: str | None  # the national significant number

    def __call__(self, text: str) -> str:
        if self.words is not None:
            text = self.words.sub(REDACTED, text)
        phone = self.phone
        own = None if phone is None else (lambda national: REDACTED if national == phone else None)
        return replace_numbers(text, nik=NIK_MASK, phone=own, only=phone)


# Titles and name prefixes that name nobody on their own and many are also everyday words ("lalu":
# then, ago; "anak": child; "ibu": mother): masked alone they garbled the text OPDs read ("sejak
# minggu lalu" for a reporter named "Lalu …", a Sasak title). They are still taken out as part of
# the whole name; the other parts of the name are masked wherever they stand alone.
NAME_TITLES = frozenset(
    (
        "lalu", "baiq", "haji", "hajjah", "hajah", "bapak", "ibu", "raden", "teuku", "tengku", "cut",
        "gusti", "anak", "daeng", "wayan", "made", "nyoman", "ketut", "putu", "kadek", "komang",
        "gede", "ida", "tuan", "nona", "nyonya", "kyai", "kiai", "ustadz", "ustad", "habib",
    )
)  # fmt: skip


def identity_pattern(reporter: Mapping[str, Any] | None) -> Redactor | None:
    """The reporter's own name, phone (in any usual writing) and e-mail, ready to redact; None
    when there is nothing to look for. Build once, apply to every text of a submission."""
    if not reporter:
        return None
    alternatives = []
    if reporter.get("email"):
        alternatives.append(re.escape(reporter["email"]))
    name = (reporter.get("name") or "").strip()
    if name:
        parts = name.split()
        alternatives.append(r"\b" + r"\s+".join(re.escape(part) for part in parts) + r"\b")
        alternatives += [
            rf"\b{re.escape(part)}\b" for part in parts if len(part) >= 3 and part.lower() not in NAME_TITLES
        ]
    phone = reporter.get("phone")
    national = phone[3:] if phone and phone.startswith("+62") else None
    # One alternation, longest kinds first: an e-mail is replaced whole before a name inside it.
    words = re.compile("|".join(alternatives), flags=re.IGNORECASE) if alternatives else None
    return Redactor(words, national)


def redact_identity(text: str, reporter: Mapping[str, Any] | None) -> str:
    """`text` without the reporter's own name, phone (in any usual writing) or e-mail."""
    return redact_with(identity_pattern(reporter), text)


def redact_with(redactor: Redactor | None, text: str) -> str:
    """`text` without the reporter's identity; NIK-shaped numbers are taken out even without one."""
    return redactor(text) if redactor is not None else mask_nik(text)


def leaving_intake(redacted: str, anonymous: bool) -> str:
    """Already-redacted text as it may leave intake: contacts masked too when anonymous."""
    return mask_contacts(redacted) if anonymous else redacted


def outgoing_text(text: str, reporter: Mapping[str, Any] | None, anonymous: bool) -> str:
    """The reporter's text as it may leave intake: no identity; contacts masked when anonymous."""
    return leaving_intake(redact_identity(text, reporter), anonymous)


def erased(doc: Mapping[str, Any], *, at: Any, by: str, reason: str) -> dict[str, Any]:
    """What erasing a complaint's reporter identity writes (UU 27/2022: on the reporter's request,
    or when the retention setting's years have passed since it closed): the identity gone, and the
    reporter's own copy of the texts replaced by the copy staff read (the same text with the
    identity taken out), with who erased it, when and why. The complaint itself carries on; the
    reporter can still follow it with the access token."""
    return {
        "reporter": None,
        "title": doc.get("staff_title", doc.get("title")),
        "description": doc.get("staff_description", doc.get("description")),
        "reporter_erased": {"at": at, "by": by, "reason": reason},
        "pin_sealed": None,  # a "received" notification not sent yet has nobody to go to
    }


def complaint_pemda(doc: dict[str, Any]) -> str:
    return str(doc.get("pemda") or pemda_of(doc["region_code"]))


def may_read_identity(staff: Staff, doc: dict[str, Any] | None) -> tuple[bool, str]:
    """(allowed, why) for one staff member and one complaint (DESIGN §3)."""
    if doc is None:
        return False, "pengaduan tidak ditemukan"
    if staff.role == "admin":
        return True, "admin"
    pemda = complaint_pemda(doc)
    if doc.get("anonymous"):
        if staff.role == "coordinator" and staff.pemda == pemda:
            return True, "admin koordinator pemda pengaduan anonim"
        return False, "identitas pelapor anonim hanya dapat dibaca Admin Koordinator pemda"
    if staff.covers(opd_id=doc.get("opd_id"), pemda=pemda):
        return True, "dalam cakupan"
    return False, "pengaduan di luar cakupan OPD/pemda Anda"


def may_read_audit(staff: Staff, doc: dict[str, Any]) -> bool:
    """Who may see who read a reporter's identity: admins, and the coordinators and supervisors
    of the complaint's pemda (never a handler: the audit is how they are watched); a supervisor of
    one OPD (an `opd` claim) only for that OPD's complaints."""
    if staff.role == "admin":
        return True
    if staff.role == "supervisor" and staff.opd:
        return doc.get("opd_id") == staff.opd
    return staff.role in ("coordinator", "supervisor") and staff.pemda == complaint_pemda(doc)
