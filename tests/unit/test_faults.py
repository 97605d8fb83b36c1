"""Which failures pause a consumer (the infrastructure's) and which dead-letter a message (its own)."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
)
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteConcernError,
    WriteError,
)

from shared.faults import TransientError, is_transient


@pytest.mark.parametrize(
    "exc",
    [
        TransientError("a concurrent update"),
        AutoReconnect("connection reset"),
        NotPrimaryError("not primary"),
        ServerSelectionTimeoutError("no server"),
        WriteConcernError("Not enough data-bearing nodes", 100),
        OperationFailure("disk full", 14031),
        OperationFailure("not authorized", 13),
        OperationFailure("shutting down", 91),
        WriteError("stepped down", 189),
        OperationFailure("whatever", 1, {"errorLabels": ["RetryableWriteError"]}),
        BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64}]}),
        BulkWriteError({"writeErrors": [{"code": 10107}]}),
        KafkaConnectionError(),
        KafkaTimeoutError(),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
)
def test_faults_of_the_infrastructure_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("a bug"),
        KeyError("payload"),
        DuplicateKeyError("E11000", 11000),
        OperationFailure("document too deep", 15),
        WriteError("validation failed", 121),
        BulkWriteError({"writeErrors": [{"code": 11000}]}),
        MessageSizeTooLargeError(),
        RecordTooLargeError(),
    ],
)
def test_faults_of_the_message_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)
