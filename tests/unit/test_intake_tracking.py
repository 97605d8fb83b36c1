"""The rules of tracking without a bearer header (services/intake/domain/tracking.py) and the
sealed PIN (adapters/tracking.py), without a server."""

from __future__ import annotations

import re

import pytest

from services.intake.adapters.tracking import open_pin, seal_pin
from services.intake.domain import tracking
from services.intake.domain.notifications import opt_out_valid

KEY = "k" * 64


def test_codes_use_an_alphabet_a_person_cannot_misread_and_come_back_as_typed() -> None:
    codes = {tracking.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(re.fullmatch(r"[2-9A-HJKMNP-Z]{2}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{2}", c) for c in codes)
    code = codes.pop()
    for typed in (code, code.lower(), code.replace("-", ""), " ".join(code.replace("-", ""))):
        assert tracking.normal_code(typed) == code
    for wrong in ("YK-7F3K-Q", "YK-7F3K-Q0", "YK-7F3K-QI", "ÿk-7f3k-q9", "", "x" * 20):
        assert tracking.normal_code(wrong) is None


def test_pins_have_six_digits_and_are_kept_as_a_keyed_hash() -> None:
    pin = tracking.new_pin()
    assert re.fullmatch(r"\d{6}", pin)
    stored = tracking.pin_hash(KEY, "YK-7F3K-Q9", pin)
    assert pin not in stored
    assert tracking.pin_matches(KEY, "YK-7F3K-Q9", pin, stored)
    assert not tracking.pin_matches(KEY, "YK-7F3K-Q8", pin, stored)  # bound to its code
    assert not tracking.pin_matches("other" * 13, "YK-7F3K-Q9", pin, stored)  # and to the key


@pytest.mark.parametrize(("failures", "delay"), [(0, 0), (1, 0), (2, 0), (3, 2), (4, 4), (5, 8), (20, 900)])
def test_wrong_pins_cost_a_doubling_delay_up_to_a_ceiling_never_a_lockout(
    failures: int, delay: float
) -> None:
    assert tracking.Backoff().retry_after(failures) == delay


def test_a_link_token_opens_its_own_complaint_only_and_odd_input_is_just_wrong() -> None:
    token = tracking.link_token(KEY, "C1")
    assert len(token) == 32 and tracking.link_valid(KEY, "C1", token)
    assert not tracking.link_valid(KEY, "C2", token)
    assert not tracking.link_valid(KEY, "C1", "\x7f/\xadk<\x95")  # non-ASCII: False, not a TypeError
    assert not opt_out_valid("s", "C1", "ünïcode")


def test_a_sealed_pin_opens_for_its_complaint_and_key_only() -> None:
    sealed = seal_pin(KEY, "C1", "123456")
    assert b"123456" not in sealed
    assert open_pin(KEY, "C1", sealed) == "123456"
    assert open_pin(KEY, "C2", sealed) is None and open_pin("x", "C1", sealed) is None
    assert open_pin(KEY, "C1", None) is None
