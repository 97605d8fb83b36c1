"""One-shot preparation for a containerised stack (docker-compose.yml's `init` job): create the
project's Kafka topics and load the OPD catalog. Idempotent; exits non-zero on failure.

    KAFKA_BOOTSTRAP=kafka:9092 MONGO_URI=mongodb://mongo:27017/?replicaSet=rs0 python -m devtools.prepare
"""

from __future__ import annotations

import asyncio
import os

from services.routing.catalog import load_catalog
from shared.kafka import ensure_topics
from shared.mongo import mongo_client
from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO


async def main() -> None:
    created = await ensure_topics(os.environ.get("KAFKA_BOOTSTRAP", DEFAULT_KAFKA))
    print(f"topics created: {', '.join(created) or 'none (all existed)'}", flush=True)
    client = mongo_client(os.environ.get("MONGO_URI", DEFAULT_MONGO))
    try:
        counts = await load_catalog(client[os.environ.get("ROUTING_MONGO_DB", "routing")])
        print(f"catalog loaded: {counts['pemda']} pemda, {counts['opds']} OPDs", flush=True)
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
