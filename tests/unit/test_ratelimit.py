"""Submit rate limits: token buckets per client address and per credential, the 429 problem with
Retry-After, X-Forwarded-For only behind a trusted proxy, limits read from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from multidict import CIMultiDict

from services.intake.entrypoints import ratelimit
from services.intake.entrypoints.ratelimit import SubmitLimits, TokenBuckets, client_address
from services.intake.settings import RateLimitSettings
from shared.http import ProblemError, problem_middleware


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=3, max_keys=10, clock=clock)
    for _ in range(3):
        assert buckets.wait("a") == 0
        buckets.take("a")
    assert buckets.wait("a") == pytest.approx(20.0)  # one token every 60/3 s
    clock.now += 5
    assert buckets.wait("a") == pytest.approx(15.0)
    clock.now += 15
    assert buckets.wait("a") == 0
    assert buckets.wait("b") == 0  # another client has its own bucket


def test_a_bucket_never_fills_above_its_capacity() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=2, max_keys=10, clock=clock)
    buckets.take("a")
    clock.now += 3600
    buckets.take("a")
    buckets.take("a")
    assert buckets.wait("a") > 0


def test_zero_per_minute_means_unlimited() -> None:
    buckets = TokenBuckets(per_minute=0, max_keys=10, clock=FakeClock())
    for _ in range(1000):
        assert buckets.wait("a") == 0
        buckets.take("a")


def test_memory_is_bounded_and_idle_buckets_go_first() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=1, max_keys=3, clock=clock)
    buckets.take("busy")
    clock.now += 120  # "busy" has refilled: forgetting it changes nothing
    buckets.take("a")
    buckets.take("b")
    buckets.take("c")  # a fourth key: the idle one is evicted, not a client still owing
    assert len(buckets) == 3
    assert buckets.wait("a") > 0 and buckets.wait("b") > 0


def test_the_limit_is_refused_with_a_429_problem_and_whole_seconds_of_retry_after() -> None:
    clock = FakeClock()
    limits = SubmitLimits(RateLimitSettings(submit_per_minute=2, submit_per_minute_per_key=100), clock)
    limits.check("10.0.0.1", None)
    limits.check("10.0.0.1", None)
    with pytest.raises(ProblemError) as refused:
        limits.check("10.0.0.1", None)
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"] == "30"
    limits.check("10.0.0.2", None)  # another address is not affected


def test_a_credential_has_its_own_limit_across_addresses() -> None:
    limits = SubmitLimits(RateLimitSettings(submit_per_minute=100, submit_per_minute_per_key=2), FakeClock())
    limits.check("10.0.0.1", "gateway-key")
    limits.check("10.0.0.2", "gateway-key")
    with pytest.raises(ProblemError) as refused:
        limits.check("10.0.0.3", "gateway-key")
    assert refused.value.status == 429
    limits.check("10.0.0.3", "other-key")


def test_a_refused_submit_counts_nothing() -> None:
    clock = FakeClock()
    limits = SubmitLimits(RateLimitSettings(submit_per_minute=1, submit_per_minute_per_key=1), clock)
    limits.check("10.0.0.1", "k")
    with pytest.raises(ProblemError):
        limits.check("10.0.0.1", "other")  # refused by the address: "other" keeps its token
    limits.check("10.0.0.2", "other")


def test_limits_and_trusted_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_RATE_SUBMIT_PER_MINUTE", "7")
    monkeypatch.setenv("INTAKE_RATE_SUBMIT_PER_MINUTE_PER_KEY", "9")
    monkeypatch.setenv("INTAKE_RATE_TRUSTED_PROXIES", "10.0.0.0/8, ::1")
    settings = RateLimitSettings()
    assert (settings.submit_per_minute, settings.submit_per_minute_per_key) == (7, 9)
    assert [str(n) for n in settings.proxies] == ["10.0.0.0/8", "::1/128"]


def _request(peer: str, forwarded: str | None = None) -> web.Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return make_mocked_request("POST", "/api/v1/complaints", headers=headers).clone(remote=peer)


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    trusted = RateLimitSettings(trusted_proxies="10.0.0.0/8").proxies
    assert client_address(_request("203.0.113.9", "198.51.100.1"), trusted) == "203.0.113.9"
    assert client_address(_request("203.0.113.9", "198.51.100.1"), ()) == "203.0.113.9"
    assert client_address(_request("10.1.2.3", "198.51.100.1"), trusted) == "198.51.100.1"


def test_every_forwarded_for_line_counts_and_ports_are_dropped() -> None:
    """A proxy may add its own X-Forwarded-For as a second line: the client's first line alone
    must not decide (found in review: a forged first line got a fresh bucket per request)."""
    trusted = RateLimitSettings(trusted_proxies="10.0.0.0/8").proxies
    request = make_mocked_request(
        "POST", "/api/v1/complaints",
        headers=CIMultiDict([("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7")]),
    ).clone(remote="10.0.0.9")  # fmt: skip
    assert client_address(request, trusted) == "198.51.100.7"
    assert client_address(_request("10.0.0.9", "198.51.100.7:51234"), trusted) == "198.51.100.7"
    assert client_address(_request("10.0.0.9", "[2001:db8::7]:443"), trusted) == client_address(
        _request("10.0.0.9", "2001:db8::7"), trusted
    )


def test_behind_trusted_proxies_the_client_is_the_right_most_untrusted_hop() -> None:
    trusted = RateLimitSettings(trusted_proxies="10.0.0.0/8").proxies
    # The client wrote "1.1.1.1" itself; our proxies appended what they saw.
    chain = "1.1.1.1, 198.51.100.7, 10.0.0.5"
    assert client_address(_request("10.0.0.9", chain), trusted) == "198.51.100.7"
    assert client_address(_request("10.0.0.9", "10.0.0.4"), trusted) == "10.0.0.9"
    assert client_address(_request("10.0.0.9", "not-an-ip, 10.0.0.4"), trusted).startswith("unparsed:")


def test_ipv6_clients_are_grouped_by_their_64_prefix() -> None:
    first = client_address(_request("2001:db8:1:2::1"), ())
    assert first == client_address(_request("2001:db8:1:2:ffff::9"), ())
    assert first != client_address(_request("2001:db8:1:3::1"), ())
    assert client_address(_request("::ffff:198.51.100.1"), ()) == "198.51.100.1"


@pytest.fixture
async def limited_app() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async def submit(request: web.Request) -> web.Response:
        await ratelimit.check_submit(request)
        return web.json_response({"ok": True}, status=202)

    app = web.Application(middlewares=[problem_middleware])
    ratelimit.install(app, RateLimitSettings(submit_per_minute=3))
    app.router.add_post("/submit", submit)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def test_the_fourth_submit_in_a_minute_gets_429_with_retry_after(
    limited_app: TestClient[web.Request, web.Application],
) -> None:
    for _ in range(3):
        assert (await limited_app.post("/submit")).status == 202
    refused = await limited_app.post("/submit")
    assert refused.status == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) == 20
    assert (await refused.json())["status"] == 429
    # Without a trusted proxy a forged X-Forwarded-For does not buy a new bucket.
    forged = await limited_app.post("/submit", headers={"X-Forwarded-For": "198.51.100.77"})
    assert forged.status == 429
