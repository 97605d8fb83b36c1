"""A person's choice of staff e-mails (issue 21 item 4): one mail per event, or one digest a day
(services/routing/domain/staff_mail.py). `/staff/surel` shows the choice and the address the mails
go to; the form sets it for the signed-in person only (an admin sets anyone's with
`pengaduan staff mail-digest`)."""

from __future__ import annotations

from aiohttp import web

from services.routing.entrypoints.staff_pages import directory, page, render, signed_in, signed_in_form


async def mail_choice(request: web.Request) -> web.Response:
    account, csrf = await signed_in(request)
    return render(request, "mail.html", account=account, csrf=csrf)


async def set_mail_choice(request: web.Request) -> web.Response:
    account, csrf, form = await signed_in_form(request)
    digest = form.get("digest") == "harian"
    await directory(request).set_mail_digest(account.id, digest)
    account = await directory(request).get(account.id) or account
    return render(request, "mail.html", account=account, csrf=csrf, done=True)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/surel", page(mail_choice))
    app.router.add_post("/staff/surel", page(set_mail_choice))
