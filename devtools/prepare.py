"""One-shot preparation of a stack (`make run`, and docker-compose.yml's `init` job): create the
project's Kafka topics and load the OPD catalog. Idempotent; exits non-zero on failure.

    KAFKA_BOOTSTRAP=kafka:9092 MONGO_URI=mongodb://mongo:27017/?replicaSet=rs0 python -m devtools.prepare
"""

from __future__ import annotations

import asyncio
import os
import sys

from services.routing.adapters.catalog import load_catalog
from shared.kafka import TopicLayoutError, ensure_topics
from shared.mongo import mongo_client
from shared.settings import (
    DEFAULT_KAFKA,
    DEFAULT_MONGO,
    KafkaLayoutSettings,
    SecretFileError,
    value_from_file,
)

# An existing topic with another partition count or replication factor (never altered).
EXIT_TOPIC_LAYOUT = 3


async def prepare(
    kafka_bootstrap: str,
    mongo_uri: str,
    routing_db: str = "routing",
    *,
    layout: KafkaLayoutSettings | None = None,
) -> None:
    """Topics with their partition counts (and `layout`, default the settings'), then the region
    data and the OPD catalog."""
    created = await ensure_topics(kafka_bootstrap, layout=layout)
    print(f"topics created: {', '.join(created) or 'none (all existed)'}", flush=True)
    client = mongo_client(mongo_uri)
    try:
        counts = await load_catalog(client[routing_db])
        print(
            f"region data and OPD catalog loaded: {counts['pemda']} pemda, {counts['opds']} OPDs", flush=True
        )
    finally:
        await client.close()


def main() -> None:
    try:
        # MONGO_URI may carry the database's credentials: MONGO_URI_FILE as the services allow.
        mongo_uri = value_from_file("MONGO_URI") or os.environ.get("MONGO_URI", DEFAULT_MONGO)
        asyncio.run(
            prepare(
                os.environ.get("KAFKA_BOOTSTRAP", DEFAULT_KAFKA),
                mongo_uri,
                os.environ.get("ROUTING_MONGO_DB", "routing"),
            )
        )
    except SecretFileError as exc:
        print(f"prepare: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    except TopicLayoutError as exc:
        lines = "\n".join(f"  - {problem}" for problem in exc.problems)
        print(f"prepare: refusing the broker's topics as they are:\n{lines}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_TOPIC_LAYOUT) from None


if __name__ == "__main__":
    main()
