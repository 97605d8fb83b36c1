"""Settings helpers: each service has one typed settings object with its own env prefix.

`KAFKA_BOOTSTRAP` and `MONGO_URI` may be set once for all services; a prefixed variable
(`INTAKE_KAFKA_BOOTSTRAP`, …) wins for that one service. Defaults are the local ones of DESIGN §6.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_MONGO = "mongodb://127.0.0.1:27017/?directConnection=true"


def shared_env(name: str, prefix: str, default: Any) -> Any:
    """A field read from `<prefix><name>`, else from the unprefixed `<name>`, else `default`."""
    return Field(default=default, validation_alias=AliasChoices(f"{prefix}{name}", name))
