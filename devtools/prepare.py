"""One-shot preparation of a stack (`make run`, and docker-compose.yml's `init` job): create the
project's Kafka topics and load the OPD catalog. Idempotent; exits non-zero on failure.

    KAFKA_BOOTSTRAP=kafka:9092 MONGO_URI=mongodb://mongo:27017/?replicaSet=rs0 python -m devtools.prepare
"""

from __future__ import annotations

import asyncio
import os

from services.routing.adapters.catalog import load_catalog
from shared.kafka import ensure_topics
from shared.mongo import mongo_client
from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO


async def prepare(kafka_bootstrap: str, mongo_uri: str, routing_db: str = "routing") -> None:
    """Topics with their partition counts, then the region data and the OPD catalog."""
    created = await ensure_topics(kafka_bootstrap)
    print(f"topics created: {', '.join(created) or 'none (all existed)'}", flush=True)
    client = mongo_client(mongo_uri)
    try:
        counts = await load_catalog(client[routing_db])
        print(
            f"region data and OPD catalog loaded: {counts['pemda']} pemda, {counts['opds']} OPDs", flush=True
        )
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(
        prepare(
            os.environ.get("KAFKA_BOOTSTRAP", DEFAULT_KAFKA),
            os.environ.get("MONGO_URI", DEFAULT_MONGO),
            os.environ.get("ROUTING_MONGO_DB", "routing"),
        )
    )
