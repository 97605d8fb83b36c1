"""The topics' replication settings (shared/settings.py) and `python -m devtools.prepare`'s
refusal of a topic laid out otherwise (the check itself runs against the real broker:
tests/integration/test_kafka_adapter.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from devtools import prepare
from shared.kafka import TopicLayoutError
from shared.settings import KafkaLayoutSettings


def test_the_local_defaults_and_the_production_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_REPLICATION_FACTOR", raising=False)
    monkeypatch.delenv("KAFKA_MIN_INSYNC_REPLICAS", raising=False)
    assert KafkaLayoutSettings() == KafkaLayoutSettings(replication_factor=1, min_insync_replicas=1)
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("KAFKA_MIN_INSYNC_REPLICAS", "2")
    assert KafkaLayoutSettings() == KafkaLayoutSettings(replication_factor=3, min_insync_replicas=2)


def test_more_in_sync_replicas_than_replicas_is_refused() -> None:
    with pytest.raises(ValidationError, match="KAFKA_MIN_INSYNC_REPLICAS"):
        KafkaLayoutSettings(replication_factor=1, min_insync_replicas=2)


def test_prepare_refuses_a_topic_laid_out_otherwise_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = "topic complaints.events has 3 partitions and replication factor 1; the project needs 6 …"

    async def refuse(*_: object) -> None:
        raise TopicLayoutError([problem])

    monkeypatch.setattr(prepare, "prepare", refuse)
    with pytest.raises(SystemExit) as exited:
        prepare.main()
    assert exited.value.code == prepare.EXIT_TOPIC_LAYOUT
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err


def test_the_complaint_topics_partition_count_is_a_setting() -> None:
    """KAFKA_COMPLAINT_PARTITIONS sets every complaint-keyed topic's count (read at import, so in
    a process of its own); the dead-letter topics keep one."""
    script = (
        "import json; from shared.topics import TOPICS; "
        "print(json.dumps({t.name: t.partitions for t in TOPICS}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "KAFKA_COMPLAINT_PARTITIONS": "24"},
        capture_output=True,
        text=True,
        check=True,
    )
    counts = json.loads(done.stdout)
    assert {counts[t] for t in ("complaints.submitted", "complaints.commands", "sla.events")} == {24}
    assert counts["routing.dlq"] == 1
