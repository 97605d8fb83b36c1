"""A person changes the address their staff e-mails go to (assignments, warnings, breaches,
escalations, the daily digest), on their own account page (`/staff/sandi`, with the password).

The current password is asked again: a session left open on a shared computer must not be enough
to send someone's mail elsewhere. The change is recorded on the account (when, by whom, the address
history; adapters/accounts.py `change_email`), and the old address is told, through the staff mail
outbox, in the same transaction (only while staff e-mail is on: with no SMTP server there is no
one to send it, and a notice sent months later when mail is switched on would only confuse).

With an OIDC provider (entrypoints/staff_oidc.py) the address is the provider's `email` claim,
written over the account's at every sign-in: a change here would be undone at the next one, so the
form is refused and `/staff/surel` says where the address comes from.
"""

from __future__ import annotations

from aiohttp import web

from services.routing.domain.staff import AccountError, check_email
from services.routing.entrypoints.staff_pages import (
    EXTERNAL_SIGN_IN,
    PAGE_SETTINGS,
    Refusal,
    directory,
    page,
    render,
    signed_in_form,
)


async def change_address(request: web.Request) -> web.Response:
    account, csrf, form = await signed_in_form(request)
    if EXTERNAL_SIGN_IN in request.app:
        raise Refusal(
            404,
            "Alamat e-mail dari layanan masuk",
            "Alamat e-mail Anda diambil dari layanan masuk pemda setiap kali Anda masuk; ubah di sana.",
        )
    staff = directory(request)
    try:
        email = check_email(form.get("email", "")[:512])
        if email is None:
            raise AccountError("Alamat e-mail wajib diisi")
        if email == account.email:
            raise AccountError("Alamat e-mail baru sama dengan alamat saat ini")
        if await staff.check_password(account.id, form.get("current_email", "")[:512]) is None:
            raise AccountError("Kata sandi saat ini salah; alamat e-mail tidak diubah")
    except AccountError as exc:
        return render(
            request, "password.html", 422, account=account, csrf=csrf, error=str(exc), email=form.get("email")
        )
    mail_on = request.app[PAGE_SETTINGS].mail.on()
    old = await staff.change_email(account.id, email, account.id, tell_old=mail_on)
    changed = await staff.get(account.id) or account
    told = mail_on and old is not None and old != email
    return render(request, "password.html", account=changed, csrf=csrf, email_done=True, old_told=told)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/staff/alamat-surel", page(change_address))
