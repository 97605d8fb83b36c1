"""No development secrets beyond loopback (shared/startup.py): which hosts are loopback, which
secrets are refused there, and that each refused variable is named."""

from __future__ import annotations

import pytest

import services.intake.settings  # registers OPEN311_API_KEY, as intake's app does
from shared import auth, startup
from shared.startup import Secret, is_loopback, problems, refuse_insecure_start

GOOD = "x" * 32


def named(host: str) -> list[str]:
    """The variables the registered secrets' problems name on `host`."""
    return [p.split(":")[0] for p in problems(host, startup.registered_secrets())]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "LOCALHOST", "127.0.0.2"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.0.0.5", "pengaduan.example.id", "192.168.1.2"])
def test_hosts_beyond_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_loopback_allows_development_secrets() -> None:
    assert problems("127.0.0.1", [Secret("STAFF_JWT_SECRET", "", is_default=True)]) == []


def test_beyond_loopback_each_default_or_short_secret_is_named() -> None:
    found = problems(
        "0.0.0.0",
        [
            Secret("STAFF_JWT_SECRET", auth.DEV_SECRET, is_default=True),
            Secret("OPEN311_API_KEY", "pendek", is_default=False),
            Secret("SIGN_IN_SECRET", "y" * 31, is_default=False),
            Secret("GATEWAY_SECRET", GOOD, is_default=False),
        ],
    )
    assert [p.split(":")[0] for p in found] == ["STAFF_JWT_SECRET", "OPEN311_API_KEY", "SIGN_IN_SECRET"]
    assert "bawaan" in found[0] and "minimal 32 byte" in found[1]


def test_the_staff_secret_registers_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STAFF_JWT_SECRET", raising=False)
    monkeypatch.delenv("STAFF_JWKS_URL", raising=False)
    monkeypatch.delenv("OPEN311_API_KEY", raising=False)
    monkeypatch.delenv("INTAKE_OPEN311_API_KEY", raising=False)
    monkeypatch.setenv("INTAKE_IDEMPOTENCY_SECRET", GOOD)  # intake's own secret: its own test below
    [unset] = [s for s in startup.registered_secrets() if s.name != "INTAKE_IDEMPOTENCY_SECRET"]
    assert (unset.name, unset.is_default) == ("STAFF_JWT_SECRET", True)
    monkeypatch.setenv("STAFF_JWT_SECRET", auth.DEV_SECRET)
    assert {s.name: s for s in startup.registered_secrets()}["STAFF_JWT_SECRET"].is_default
    monkeypatch.setenv("STAFF_JWT_SECRET", GOOD)
    assert problems("0.0.0.0", startup.registered_secrets()) == []
    monkeypatch.setenv("STAFF_JWT_SECRET", "pendek")
    assert [p.split(":")[0] for p in problems("0.0.0.0", startup.registered_secrets())] == [
        "STAFF_JWT_SECRET"
    ]
    # Keys from an OIDC provider: the HS256 secret is not used, so not checked.
    monkeypatch.setenv("STAFF_JWKS_URL", "https://sso.contoh.id/realms/pemda/protocol/openid-connect/certs")
    assert [s.name for s in startup.registered_secrets()] == ["INTAKE_IDEMPOTENCY_SECRET"]


def test_the_seeded_open311_key_registers_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_JWT_SECRET", GOOD)
    monkeypatch.setenv("INTAKE_IDEMPOTENCY_SECRET", GOOD)
    monkeypatch.setenv("OPEN311_API_KEY", services.intake.settings.DEV_API_KEY)
    assert named("0.0.0.0") == ["OPEN311_API_KEY"]
    monkeypatch.setenv("OPEN311_API_KEY", "k" * 40)
    assert problems("0.0.0.0", startup.registered_secrets()) == []


def test_refusal_exits_with_status_2_naming_the_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        refuse_insecure_start("0.0.0.0", [Secret("STAFF_JWT_SECRET", "", is_default=True)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "STAFF_JWT_SECRET" in err and "Traceback" not in err
    refuse_insecure_start("127.0.0.1", [Secret("STAFF_JWT_SECRET", "", is_default=True)])  # returns


def test_the_idempotency_secret_registers_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_JWT_SECRET", GOOD)
    monkeypatch.setenv("OPEN311_API_KEY", "k" * 40)
    monkeypatch.delenv("INTAKE_IDEMPOTENCY_SECRET", raising=False)
    assert named("0.0.0.0") == ["INTAKE_IDEMPOTENCY_SECRET"]
    monkeypatch.setenv("INTAKE_IDEMPOTENCY_SECRET", "pendek")
    assert named("0.0.0.0") == ["INTAKE_IDEMPOTENCY_SECRET"]
    monkeypatch.setenv("INTAKE_IDEMPOTENCY_SECRET", GOOD)
    assert named("0.0.0.0") == []


def test_the_notification_link_secret_registers_itself_once_notifications_are_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in (
        ("STAFF_JWT_SECRET", GOOD),
        ("OPEN311_API_KEY", "k" * 40),
        ("INTAKE_IDEMPOTENCY_SECRET", GOOD),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("INTAKE_NOTIFY_SECRET", raising=False)
    assert named("0.0.0.0") == []  # notifications off: the secret is not used
    monkeypatch.setenv("INTAKE_NOTIFY_SMTP_HOST", "smtp.pemda.go.id")
    assert named("0.0.0.0") == ["INTAKE_NOTIFY_SECRET"]
    monkeypatch.setenv("INTAKE_NOTIFY_SECRET", GOOD)
    assert named("0.0.0.0") == []
