"""The webhook target filter (services/routing/adapters/webhooks.py), on addresses only: nothing here is
ever connected to. Resolvers are fakes whose answers the test sets."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from pydantic import HttpUrl, TypeAdapter

from services.routing.adapters.webhooks import TargetGuard, TargetRefused, _GuardedResolver, parse_networks

INSIDE = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "2002:7f00:1::",  # 6to4 around 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", INSIDE)
def test_inside_addresses_are_refused_without_an_allow_list(address: str) -> None:
    with pytest.raises(TargetRefused, match="tidak diizinkan"):
        TargetGuard().check_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    TargetGuard().check_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
    ],
)
async def test_odd_spellings_of_inside_addresses_are_refused(url: str) -> None:
    normalised = str(TypeAdapter(HttpUrl).validate_python(url))  # as registration stores it
    with pytest.raises(TargetRefused, match="tidak diizinkan"):
        await TargetGuard().check_url(normalised)


async def test_a_name_idna_cannot_encode_is_refused_not_a_500() -> None:
    """A label over 63 characters passes URL validation; resolving it raised UnicodeError (a 500).
    IDNA refuses it before any lookup: no query leaves the machine."""
    url = str(TypeAdapter(HttpUrl).validate_python("http://" + "a" * 64 + ".com/x"))
    with pytest.raises(TargetRefused, match="tidak dapat di-resolve"):
        await TargetGuard().check_url(url)


def test_allow_listed_networks_open_only_themselves() -> None:
    guard = TargetGuard(parse_networks("10.20.0.0/16, 192.168.5.0/24"))
    guard.check_address("10.20.3.4")
    guard.check_address("::ffff:10.20.3.4")
    guard.check_address("192.168.5.9")
    for address in ("10.21.0.1", "127.0.0.1", "169.254.169.254", "192.168.6.1"):
        with pytest.raises(TargetRefused):
            guard.check_address(address)


def test_parse_networks_names_a_bad_entry() -> None:
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        parse_networks("127.0.0.0/8,10.0.0.0/33")


class Answers(AbstractResolver):
    """A resolver whose answers the test changes."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked += 1
        if not self.addresses:
            raise OSError("no such host")
        return [
            {"hostname": host, "host": a, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_every_address_a_name_resolves_to_is_checked() -> None:
    answers = Answers("93.184.215.14", "10.0.0.5")
    with pytest.raises(TargetRefused, match=r"10\.0\.0\.5"):
        await TargetGuard(resolver=answers).check_url("https://opd.contoh.id/hook")
    answers.addresses = ["93.184.215.14"]
    await TargetGuard(resolver=answers).check_url("https://opd.contoh.id/hook")
    answers.addresses = []
    with pytest.raises(TargetRefused, match="tidak dapat di-resolve"):
        await TargetGuard(resolver=answers).check_url("https://opd.contoh.id/hook")


async def test_the_connect_time_resolver_refuses_a_rebound_answer() -> None:
    answers = Answers("93.184.215.14")
    guarded = _GuardedResolver(TargetGuard(resolver=answers))
    assert [a["host"] for a in await guarded.resolve("opd.contoh.id", 443)] == ["93.184.215.14"]
    answers.addresses = ["169.254.169.254"]
    with pytest.raises(OSError, match="tidak diizinkan"):
        await guarded.resolve("opd.contoh.id", 443)
    assert answers.asked == 2


def test_the_socket_factory_refuses_inside_addresses_before_any_socket_exists() -> None:
    guard = TargetGuard()
    info: aiohttp.AddrInfoType = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))
    with pytest.raises(OSError, match="tidak diizinkan"):
        guard._socket(info)
