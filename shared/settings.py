"""Settings helpers: each service has one typed settings object with its own env prefix.

`KAFKA_BOOTSTRAP` and `MONGO_URI` may be set once for all services; a prefixed variable
(`INTAKE_KAFKA_BOOTSTRAP`, …) wins for that one service. Defaults are the local ones of DESIGN §6.

Every variable a `FileSettings` class reads (the secrets of shared/startup.py's registry among
them) may instead be given as `<NAME>_FILE`, the path of a file holding the value, as Docker and
Kubernetes mount secrets: `STAFF_JWT_SECRET_FILE=/run/secrets/staff_jwt_secret`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_MONGO = "mongodb://127.0.0.1:27017/?directConnection=true"


def shared_env(name: str, prefix: str, default: Any) -> Any:
    """A field read from `<prefix><name>`, else from the unprefixed `<name>`, else `default`."""
    return Field(default=default, validation_alias=AliasChoices(f"{prefix}{name}", name))


class SecretFileError(ValueError):
    """`<NAME>_FILE` cannot be used: `<NAME>` is set too, or the file cannot be read."""


def value_from_file(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value `<name>_FILE` points at (its file's text, trailing newlines stripped), or None
    when `<name>_FILE` is not set. An error when `<name>` is set as well (which one would count is
    a guess), or when the file is missing or unreadable (named with its path)."""
    env = os.environ if environ is None else environ
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    if env.get(name):
        raise SecretFileError(f"{name} and {name}_FILE are both set: set only one of them")
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecretFileError(f"{name}_FILE: cannot read {path}: {reason}") from None


def env_names(settings_cls: type[BaseSettings], field_name: str, field: FieldInfo) -> list[tuple[str, str]]:
    """The environment variables pydantic-settings reads a field from, each with the key that
    gives the field its value."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [(choice.upper(), choice) for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [(alias.upper(), alias)]
    return [(f"{settings_cls.model_config.get('env_prefix', '')}{field_name}".upper(), field_name)]


class _FileSource(PydanticBaseSettingsSource):
    """`<NAME>_FILE` for every variable of the class."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the variables itself

    def __call__(self) -> dict[str, Any]:
        environ = {key.upper(): value for key, value in os.environ.items()}
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            for name, key in env_names(self.settings_cls, field_name, field):
                value = value_from_file(name, environ)
                if value is not None:
                    values[key] = value
                if value is not None or environ.get(name):
                    break  # the first of the field's names that is given counts, as a file or not
        return values


class FileSettings(BaseSettings):
    """Settings whose every variable may come from `<NAME>_FILE` (see the module's docstring)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Before the environment's source: a prefixed `<PREFIX><NAME>_FILE` beats the unprefixed
        # `<NAME>` (`_FileSource` gives no value when an earlier name of the field is set).
        return init_settings, _FileSource(settings_cls), env_settings, dotenv_settings, file_secret_settings


class KafkaLayoutSettings(BaseSettings):
    """How the project's topics are replicated (`KAFKA_REPLICATION_FACTOR`,
    `KAFKA_MIN_INSYNC_REPLICAS`): 1 and 1 for the local single broker; in production 3 and 2, so
    an acknowledged message (acks=all) is on two brokers and one broker may be lost."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    # Replicas of each topic, applied when topics are created and checked at start-up (3 in
    # production).
    replication_factor: int = Field(default=1, ge=1)
    # Replicas that must hold a message before it is acknowledged (2 in production, with 3
    # replicas).
    min_insync_replicas: int = Field(default=1, ge=1)
    # Partitions of every complaint-keyed topic (one count for all of them, so one complaint's
    # messages meet in one process of each group): the most processes a consumer group can use.
    # Applied when the topics are created; an existing topic with another count is refused at
    # start-up, never changed (docs/capacity.md: 6 for a pemda, 24 for the whole country).
    complaint_partitions: int = Field(default=6, ge=1, le=1000)

    @model_validator(mode="after")
    def _isr_within_replicas(self) -> KafkaLayoutSettings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"KAFKA_MIN_INSYNC_REPLICAS ({self.min_insync_replicas}) exceeds "
                f"KAFKA_REPLICATION_FACTOR ({self.replication_factor}): no write could succeed"
            )
        return self


@functools.cache
def kafka_layout() -> KafkaLayoutSettings:
    """The topics' replication settings, read from the environment once per process."""
    return KafkaLayoutSettings()


class ServeSettings(BaseSettings):
    """How a service process listens (`HTTP_REUSE_PORT`)."""

    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore")

    # SO_REUSEPORT on the listening socket: several processes of one service on one address, the
    # kernel spreading the connections over them (`make run SCALE=2`). Off by default: a second
    # process started by mistake on a taken port then fails instead of sharing it.
    reuse_port: bool = False


class MongoConcernSettings(BaseSettings):
    """The database client's write and read concerns (`MONGO_WRITE_CONCERN`, `MONGO_JOURNAL`,
    `MONGO_READ_CONCERN`). The defaults are the durable ones: a write is acknowledged once it is
    journaled on a majority of the replica set, and reads see only majority-committed data."""

    model_config = SettingsConfigDict(env_prefix="MONGO_", extra="ignore")

    # "majority", or a number of members ("1" is not durable across a failover).
    write_concern: str = "majority"
    # Acknowledge writes only once journaled (on the majority the write concern asks).
    journal: bool = True
    # "majority": reads see only what a failover cannot roll back; "local" for a single test server.
    read_concern: str = "majority"

    @property
    def w(self) -> int | str:
        return int(self.write_concern) if self.write_concern.isdigit() else self.write_concern


@functools.cache
def mongo_concerns() -> MongoConcernSettings:
    """The database client's concerns, read from the environment once per process."""
    return MongoConcernSettings()
