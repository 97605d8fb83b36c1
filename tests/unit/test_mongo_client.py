"""The services' database client: durable acknowledgement, and a lost database known at once."""

from __future__ import annotations

import pytest
from pymongo.errors import ConnectionFailure

from shared.mongo import database_down, mongo_client
from shared.settings import MongoConcernSettings


async def test_writes_are_journaled_by_a_majority_and_a_database_not_answering_is_known_down() -> None:
    # Port 9 (discard): nothing listens there, every connection is refused at once.
    client = mongo_client("mongodb://127.0.0.1:9/?directConnection=true&connectTimeoutMS=200")
    try:
        assert client.write_concern.document == {"w": "majority", "j": True}
        assert client.options.server_selection_timeout < 1.0
        assert not database_down(client)  # nothing tried yet: the first request tries and learns
        with pytest.raises(ConnectionFailure):
            await client.admin.command("ping")
        assert database_down(client)
    finally:
        await client.close()


async def test_the_concerns_are_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MongoConcernSettings() == MongoConcernSettings(
        write_concern="majority", journal=True, read_concern="majority"
    )
    monkeypatch.setenv("MONGO_WRITE_CONCERN", "2")
    monkeypatch.setenv("MONGO_JOURNAL", "false")
    monkeypatch.setenv("MONGO_READ_CONCERN", "local")
    client = mongo_client("mongodb://127.0.0.1:9/?directConnection=true", MongoConcernSettings())
    try:
        assert client.write_concern.document == {"w": 2, "j": False}
        assert client.read_concern.document == {"level": "local"}
    finally:
        await client.close()


async def test_by_default_reads_see_only_majority_committed_data() -> None:
    client = mongo_client("mongodb://127.0.0.1:9/?directConnection=true", MongoConcernSettings())
    try:
        assert client.read_concern.document == {"level": "majority"}
        assert client.write_concern.document == {"w": "majority", "j": True}
    finally:
        await client.close()
