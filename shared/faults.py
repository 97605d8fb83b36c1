"""Which failures are the infrastructure's and which are a message's own (DESIGN §6, Delivery).

A fault of the infrastructure — the database or the broker unreachable, a timeout, a primary that
stepped down, a write concern that cannot be met, a full disk, missing rights, anything the
database labels retryable — says nothing about the message being handled: the same message will
succeed once the fault is fixed. A consumer therefore pauses and retries it (with capped backoff,
visibly), and never dead-letters it: a dead letter for an infrastructure fault is an accepted
complaint silently dropped. Only a failure of the message itself (a bug it triggers, content the
handler refuses) goes to `<group>.dlq`.
"""

from __future__ import annotations

from aiokafka.errors import (
    InvalidMessageError,
    InvalidTimestampError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
    WTimeoutError,
)


class TransientError(RuntimeError):
    """Raise (or subclass) for a failure that a retry of the same work can cure."""


class ConcurrentUpdate(TransientError):
    """Another writer changed a document between our read and our rev-guarded write: the work is
    done again from a fresh read (a consumer retries its batch; handlers are idempotent). One class
    for every store of the three services, so a retry policy names one thing."""


# Server error codes that describe the server or the cluster, not the document (MongoDB's
# error_codes.yml; the database server we run locally answers with the same codes).
INFRASTRUCTURE_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        13,  # Unauthorized: the service's rights, not the message
        18,  # AuthenticationFailed
        24,  # LockTimeout
        46,  # LockBusy
        50,  # MaxTimeMSExpired
        64,  # WriteConcernFailed
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        100,  # UnsatisfiableWriteConcern
        112,  # WriteConflict
        133,  # FailedToSatisfyReadPreference
        134,  # ReadConcernMajorityNotAvailableYet
        189,  # PrimarySteppedDown
        202,  # NetworkInterfaceExceededTimeLimit
        251,  # NoSuchTransaction (aborted by the server)
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11601,  # Interrupted
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
        14031,  # OutOfDiskSpace
    }
)
RETRYABLE_LABELS = (
    "RetryableWriteError",
    "TransientTransactionError",
    "RetryableError",
    "SystemOverloadedError",
)

# Always the infrastructure's, whatever their details.
_ALWAYS = (
    TransientError,
    ConnectionFailure,  # includes AutoReconnect, NotPrimaryError, NetworkTimeout, server selection
    ExecutionTimeout,
    WriteConcernError,
    WTimeoutError,
    KafkaError,
    OSError,  # includes ConnectionError; ENOSPC and EACCES of a local file are the machine's too
    TimeoutError,
)


# Kafka's refusals of a message for what it is: retrying the same message cannot cure them.
KAFKA_CONTENT_ERRORS = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidMessageError,
    InvalidTimestampError,
)


def is_transient(exc: BaseException) -> bool:
    """Is `exc` a fault of the infrastructure (retry the same work) rather than of the work?"""
    if isinstance(exc, KAFKA_CONTENT_ERRORS):
        return False
    if isinstance(exc, _ALWAYS):
        return True
    if isinstance(exc, PyMongoError) and any(exc.has_error_label(label) for label in RETRYABLE_LABELS):
        return True
    if isinstance(exc, BulkWriteError):
        details = exc.details or {}
        if details.get("writeConcernErrors"):
            return True
        return any(e.get("code") in INFRASTRUCTURE_CODES for e in details.get("writeErrors", []))
    if isinstance(exc, OperationFailure):  # includes WriteError
        return exc.code in INFRASTRUCTURE_CODES
    return False


def retry_delay(attempts: int, most: float) -> float:
    """Seconds before a message's next try after `attempts` failed ones (shared/mail_outbox.py's
    workers): 5 s doubling, capped at `most`."""
    return float(min(most, 5.0 * 2 ** max(0, attempts - 1)))
