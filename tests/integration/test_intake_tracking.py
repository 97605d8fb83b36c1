"""Following a complaint without an Authorization header (issue 20 item 2), intake in process on
the real broker and database: the notification link and the tracking code + PIN exchanged for a
session cookie and a 303 to the clean URL; the cookie's attributes; the per-code backoff kept in
the database (429 with Retry-After, never a lockout), which a stranger's guesses cannot keep a
browser that proved the code waiting on; the per-client limit; the access log never holding a
token."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pymongo.asynchronous.database import AsyncDatabase

from devtools.infra import Endpoints
from services.intake.bootstrap import create_app
from services.intake.domain.tracking import link_token
from services.intake.entrypoints.tracking import COOKIE, DEVICE_COOKIE
from services.intake.settings import IntakeSettings, RateLimitSettings
from shared import clock
from shared.kafka import ensure_topics
from shared.logs import ACCESS
from shared.topics import TopicSpec, dlq
from tests.intake_app import Client, running_intake
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

PUBLIC = "https://lapor.example.go.id"
SUBMISSION: dict[str, Any] = {
    "title": "Jalan berlubang di depan SD",
    "description": "Lubang besar di Jl. Pemuda depan SD Negeri 2 sudah dua minggu belum ditambal.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": {"name": "Sari Wulandari", "email": "sari@example.id"},
}
CODE = re.compile(r"^[2-9A-HJKMNP-Z]{2}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}$")


@pytest.fixture(scope="module")
async def intake(endpoints: Endpoints) -> AsyncIterator[tuple[Client, AsyncDatabase[dict[str, Any]]]]:
    # The per-client limit has its own test below: these tests all come from one address.
    unlimited = RateLimitSettings(track_per_minute=0)
    async with running_intake(endpoints, public_base_url=PUBLIC, rate=unlimited) as running:
        yield running


async def submit(http: Client, **changes: Any) -> dict[str, Any]:
    resp = await http.post("/api/v1/complaints", json={**SUBMISSION, **changes})
    assert resp.status == 202, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def session_of(resp: aiohttp.ClientResponse, complaint_id: str) -> str:
    """The session cookie a 303 sets, its attributes checked."""
    assert resp.status == 303, resp.status
    assert resp.headers["Location"] == f"{PUBLIC}/api/v1/complaints/{complaint_id}"  # never the Host
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == f"/api/v1/complaints/{complaint_id}"
    assert 0 < int(cookie["max-age"]) <= 90 * 24 * 3600
    return cookie.value


async def view(http: Client, complaint_id: str, session: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Cookie": f"{COOKIE}={session}"} if session else {}
    resp = await http.get(f"/api/v1/complaints/{complaint_id}", headers=headers)
    return resp.status, (await resp.json() if resp.status == 200 else {})


async def test_the_code_and_pin_open_the_reporters_view_through_a_cookie(
    intake: tuple[Client, AsyncDatabase[dict[str, Any]]],
) -> None:
    http, db = intake
    accepted = await submit(http, confidential=True)
    cid, code, pin = accepted["id"], accepted["tracking_code"], accepted["pin"]
    assert CODE.match(code) and re.fullmatch(r"\d{6}", pin)
    stored = await db["tracking_codes"].find_one({"_id": code})
    assert stored is not None and stored["complaint_id"] == cid and pin not in str(stored)
    assert (await view(http, cid, None))[0] == 404  # confidential: nothing without a credential

    # Typed as a person types it: lower case, no hyphens; the Host header plays no part.
    typed = {"code": code.replace("-", "").lower(), "pin": pin}
    resp = await http.post(
        "/api/v1/tracking", json=typed, allow_redirects=False, headers={"Host": "evil.example"}
    )
    session = session_of(resp, cid)
    assert session not in str(await db["tracking_sessions"].find().to_list())  # kept hashed
    status, seen = await view(http, cid, session)
    assert status == 200 and seen["id"] == cid and seen["description"] == SUBMISSION["description"]

    # A plain HTML form works too, and a cookie opens its own complaint only.
    form = aiohttp.FormData({"code": code, "pin": pin})
    resp = await http.post("/api/v1/tracking", data=form, allow_redirects=False)
    session_of(resp, cid)
    other = await submit(http, confidential=True)
    assert (await view(http, other["id"], session))[0] == 404


async def test_anonymous_reporters_get_a_code_and_pin_too(
    intake: tuple[Client, AsyncDatabase[dict[str, Any]]],
) -> None:
    http, _ = intake
    accepted = await submit(http, anonymous=True, reporter=None)
    assert CODE.match(accepted["tracking_code"]) and accepted["pin"]
    resp = await http.post(
        "/api/v1/tracking",
        json={"code": accepted["tracking_code"], "pin": accepted["pin"]},
        allow_redirects=False,
    )
    status, seen = await view(http, accepted["id"], session_of(resp, accepted["id"]))
    assert status == 200 and seen["anonymous"] is True and seen["title"] is not None


async def test_wrong_pins_slow_the_code_down_but_never_lock_its_reporter_out(
    intake: tuple[Client, AsyncDatabase[dict[str, Any]]],
) -> None:
    http, db = intake
    accepted = await submit(http)
    code, pin = accepted["tracking_code"], accepted["pin"]
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    for _ in range(3):  # the free tries
        resp = await http.post("/api/v1/tracking", json={"code": code, "pin": wrong}, allow_redirects=False)
        assert resp.status == 401
        assert (await resp.json())["errors"][0]["field"] == "pin"
    stored = await db["tracking_codes"].find_one({"_id": code})
    assert stored is not None and stored["failures"] == 3 and stored["retry_at"] is not None
    # The delay holds for everyone (the state is in the database): even the right PIN waits.
    for attempt in (wrong, pin):
        resp = await http.post("/api/v1/tracking", json={"code": code, "pin": attempt}, allow_redirects=False)
        assert resp.status == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 2
    # After the delay the right PIN works, and the count starts again.
    with clock.pinned(clock.now() + timedelta(seconds=3)):
        resp = await http.post("/api/v1/tracking", json={"code": code, "pin": pin}, allow_redirects=False)
    session_of(resp, accepted["id"])
    stored = await db["tracking_codes"].find_one({"_id": code})
    assert stored is not None and stored["failures"] == 0 and stored["retry_at"] is None

    # An unknown code answers as a wrong PIN (which of the two is not said); nonsense is named.
    resp = await http.post("/api/v1/tracking", json={"code": "ZZ-ZZZZ-ZZ", "pin": "123456"})
    assert resp.status == 401
    resp = await http.post("/api/v1/tracking", json={"code": code, "pin": "12ab"})
    assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == "pin"


def device_of(resp: aiohttp.ClientResponse) -> str:
    """The device cookie a successful exchange sets, its attributes checked."""
    cookie = resp.cookies[DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert int(cookie["max-age"]) >= 30 * 24 * 3600
    return cookie.value


async def test_a_strangers_guesses_never_hold_back_a_browser_that_proved_the_code(
    intake: tuple[Client, AsyncDatabase[dict[str, Any]]],
) -> None:
    """OWASP's device cookies: the citizen's phone, once it has shown the right PIN (or opened the
    link), is trusted with the code and waits only on its own wrong PINs; everyone else shares the
    code's backoff, which a stranger guessing keeps going."""
    http, db = intake
    accepted = await submit(http)
    cid, code, pin = accepted["id"], accepted["tracking_code"], accepted["pin"]
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"

    async def try_pin(attempt: str, device: str | None = None) -> aiohttp.ClientResponse:
        headers = {"Cookie": f"{DEVICE_COOKIE}={device}"} if device else {}
        return await http.post(
            "/api/v1/tracking", json={"code": code, "pin": attempt}, headers=headers, allow_redirects=False
        )

    phone = device_of(await try_pin(pin))  # the citizen, once
    assert phone not in str(await db["tracking_devices"].find().to_list())  # kept hashed
    for _ in range(3):  # a stranger: the free tries, then into the backoff
        assert (await try_pin(wrong)).status == 401
    assert (await try_pin(pin)).status == 429  # without the cookie even the right PIN waits
    assert (await try_pin(pin, device="a-made-up-device-id-of-a-stranger")).status == 429

    resp = await try_pin(pin, device=phone)  # the phone does not wait
    session_of(resp, cid)
    assert device_of(resp) == phone  # the same device id, its trust renewed
    stored = await db["tracking_codes"].find_one({"_id": code})
    assert stored is not None and stored["failures"] == 3 and stored["retry_at"] is not None  # still slowed

    # The phone's own wrong PINs slow the phone down (its own count), and only it.
    for _ in range(3):
        assert (await try_pin(wrong, device=phone)).status == 401
    assert (await try_pin(pin, device=phone)).status == 429
    with clock.pinned(clock.now() + timedelta(seconds=3)):
        session_of(await try_pin(pin, device=phone), cid)

    # Trust is per code: the phone's id means nothing for another complaint's code.
    other = await submit(http)
    for _ in range(4):
        await http.post("/api/v1/tracking", json={"code": other["tracking_code"], "pin": wrong})
    resp = await http.post(
        "/api/v1/tracking",
        json={"code": other["tracking_code"], "pin": other["pin"]},
        headers={"Cookie": f"{DEVICE_COOKIE}={phone}"},
        allow_redirects=False,
    )
    assert resp.status == 429


async def test_opening_the_notification_link_trusts_the_browser_with_the_code(
    intake: tuple[Client, AsyncDatabase[dict[str, Any]]],
) -> None:
    http, _ = intake
    accepted = await submit(http)
    cid, code, pin = accepted["id"], accepted["tracking_code"], accepted["pin"]
    token = link_token(IntakeSettings(public_base_url=PUBLIC).tracking_key(), cid)
    resp = await http.get(f"/api/v1/complaints/{cid}/track", params={"t": token}, allow_redirects=False)
    phone = device_of(resp)
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    for _ in range(4):
        await http.post("/api/v1/tracking", json={"code": code, "pin": wrong})
    resp = await http.post(
        "/api/v1/tracking",
        json={"code": code, "pin": pin},
        headers={"Cookie": f"{DEVICE_COOKIE}={phone}"},
        allow_redirects=False,
    )
    session_of(resp, cid)


async def test_the_notification_link_is_exchanged_for_the_cookie_and_never_logged(
    endpoints: Endpoints, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS.name)  # before the server: aiohttp asks once
    async with running_intake(endpoints, public_base_url=PUBLIC, access_log=True) as (http, _):
        accepted = await submit(http, confidential=True)
        cid = accepted["id"]
        key = IntakeSettings(public_base_url=PUBLIC).tracking_key()
        token = link_token(key, cid)
        assert len(token) >= 22  # ≥ 128 bits in URL-safe base64
        resp = await http.get(
            f"/api/v1/complaints/{cid}/track",
            params={"t": token},
            headers={"X-Request-ID": "lacak-1"},
            allow_redirects=False,
        )
        session = session_of(resp, cid)
        status, seen = await view(http, cid, session)
        assert status == 200 and seen["title"] == SUBMISSION["title"]
        wrong = await http.get(
            f"/api/v1/complaints/{cid}/track", params={"t": "x" * 32}, allow_redirects=False
        )
        assert wrong.status == 404 and COOKIE not in wrong.cookies
        assert link_token(key, accepted["id"]) != link_token(key, (await submit(http))["id"])

        def exchange_logged() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.name == ACCESS.name and "/track" in r.getMessage()]

        await eventually(lambda: _async(exchange_logged()), within=5, what="the access log line")
    lines = [(r.getMessage(), vars(r)) for r in caplog.records]
    assert any(f"/api/v1/complaints/{cid}/track 303" in message for message, _ in lines)
    for message, fields in lines:  # neither the link's token nor the session, anywhere
        assert token not in message and session not in message
        assert token not in str(fields) and session not in str(fields)


async def _async(found: list[logging.LogRecord]) -> list[logging.LogRecord] | None:
    return found or None


async def test_each_client_address_has_its_own_limit(endpoints: Endpoints) -> None:
    async with running_intake(endpoints, rate=RateLimitSettings(track_per_minute=2)) as (http, _):
        statuses = [
            (await http.post("/api/v1/tracking", json={"code": "ZZ-ZZZZ-ZZ", "pin": "000000"})).status
            for _ in range(3)
        ]
    assert statuses == [401, 401, 429]


async def test_the_backoff_holds_across_processes(
    endpoints: Endpoints, intake: tuple[Client, AsyncDatabase[dict[str, Any]]]
) -> None:
    """A second intake on the same database (another process behind the load balancer) sees the
    first one's count of wrong PINs: moving between instances does not reset the delay."""
    first, db = intake
    accepted = await submit(first)
    code, pin = accepted["tracking_code"], accepted["pin"]
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    for _ in range(3):
        resp = await first.post("/api/v1/tracking", json={"code": code, "pin": wrong})
        assert resp.status == 401
    config = IntakeSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongo_uri=endpoints.mongo_uri,
        mongo_db=db.name,
        consumer_group=f"{db.name}-second",
        dead_commands_group=f"{db.name}-second-dead",
        public_base_url=PUBLIC,
        rate=RateLimitSettings(track_per_minute=0),
    )
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(config.consumer_group), 1)])
    second = TestClient(TestServer(create_app(config)))
    await second.start_server()
    try:
        resp = await second.post("/api/v1/tracking", json={"code": code, "pin": pin}, allow_redirects=False)
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
        with clock.pinned(clock.now() + timedelta(seconds=3)):
            resp = await second.post(
                "/api/v1/tracking", json={"code": code, "pin": pin}, allow_redirects=False
            )
        session = session_of(resp, accepted["id"])
    finally:
        await second.close()
    status, seen = await view(first, accepted["id"], session)  # the session is shared too
    assert status == 200 and seen["title"] == SUBMISSION["title"]
