from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO, shared_env

PREFIX = "SLA_"


class SlaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    kafka_bootstrap: str = shared_env("KAFKA_BOOTSTRAP", PREFIX, DEFAULT_KAFKA)
    mongo_uri: str = shared_env("MONGO_URI", PREFIX, DEFAULT_MONGO)
    mongo_db: str = "sla"
    http_host: str = "127.0.0.1"
    http_port: int = 8083
    log_level: str = "INFO"
