from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO, shared_env

PREFIX = "INTAKE_"


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    kafka_bootstrap: str = shared_env("KAFKA_BOOTSTRAP", PREFIX, DEFAULT_KAFKA)
    mongo_uri: str = shared_env("MONGO_URI", PREFIX, DEFAULT_MONGO)
    mongo_db: str = "intake"
    http_host: str = "127.0.0.1"
    http_port: int = 8081
    # Base of the `status_url` given to citizens; empty = derived from the request's host.
    public_base_url: str = ""
    # How long a submit waits for Kafka's acknowledgement before answering 503.
    publish_timeout_seconds: float = 10.0
    log_level: str = "INFO"
