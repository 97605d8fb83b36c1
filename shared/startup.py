"""No development secrets beyond loopback: a service whose HTTP host is not 127.0.0.1, ::1 or
localhost refuses to start while any secret it uses is a development default or too short, with
a message naming each variable (exit status 2, no traceback).

Secrets register themselves where they are defined: a module decorates a function with
`@register_secret`; the function returns the secret's `Secret` (variable name, value, whether it
is the development default, its minimum length), or None when the process does not use it (e.g.
the HS256 secret when keys come from JWKS). Each service's `__main__` calls `refuse_insecure_start`
after importing its app, so the secrets of every module it loaded are checked.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.settings import SecretFileError

MIN_SECRET_BYTES = 32
EXIT_INSECURE = 2


@dataclass(frozen=True)
class Secret:
    name: str  # the environment variable that sets it
    value: str
    is_default: bool  # the built-in development value (or unset, so the default applies)
    min_bytes: int = MIN_SECRET_BYTES


SecretProvider = Callable[[], Secret | None]
_PROVIDERS: list[SecretProvider] = []


def register_secret(provider: SecretProvider) -> SecretProvider:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def registered_secrets() -> list[Secret]:
    return [secret for provider in _PROVIDERS if (secret := provider()) is not None]


def is_loopback(host: str) -> bool:
    """Only this machine can connect: `localhost` or a loopback address (an empty host, `0.0.0.0`
    or `::` listen on every interface)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def problems(host: str, secrets: Iterable[Secret]) -> list[str]:
    """What forbids listening on `host` with these secrets (nothing on loopback)."""
    if is_loopback(host):
        return []
    found = []
    for secret in secrets:
        if secret.is_default:
            found.append(f"{secret.name}: masih nilai bawaan pengembangan; tetapkan rahasia sendiri")
        elif len(secret.value.encode()) < secret.min_bytes:
            found.append(f"{secret.name}: terlalu pendek (minimal {secret.min_bytes} byte)")
    return found


def refuse_insecure_start(host: str, secrets: Iterable[Secret] | None = None) -> None:
    """Exit (status 2, the variables named on stderr) when `host` is beyond loopback and a secret
    is a development default or too short, or when a secret's `<NAME>_FILE` cannot be used
    (shared/settings.py); return otherwise."""
    try:
        found = problems(host, registered_secrets() if secrets is None else secrets)
    except SecretFileError as exc:  # on any host: the operator asked for that file
        print(f"pengaduan: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_INSECURE) from None
    if found:
        lines = "\n".join(f"  - {p}" for p in found)
        print(
            f"pengaduan: menolak berjalan di {host or '(semua antarmuka)'} dengan rahasia pengembangan:\n"
            f"{lines}\n"
            "Hanya 127.0.0.1/::1/localhost boleh memakai nilai bawaan (make run, tes).",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(EXIT_INSECURE)
