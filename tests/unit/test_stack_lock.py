"""One live stack per profile: a second `make run` (or benchmark) of the same profile says the
stack is running instead of stopping the first one's servers; a killed owner blocks nobody."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from devtools import infra

TRY_LOCK = """
import sys
from devtools import infra
try:
    with infra.stack_lock(sys.argv[1]):
        print("acquired")
except infra.InfraError as exc:
    print(exc)
"""

HOLD_LOCK = """
import sys
from devtools import infra
with infra.stack_lock(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.read()  # held until the test kills this process
"""


@pytest.fixture
def profile() -> Iterator[str]:
    name = f"unit-lock-{uuid.uuid4().hex[:8]}"
    yield name
    shutil.rmtree(infra.run_dir(name), ignore_errors=True)


def other_process_tries(profile: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, profile], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_a_second_owner_is_refused_while_the_first_holds_the_stack(profile: str) -> None:
    with infra.stack_lock(profile):
        answer = other_process_tries(profile)
    assert f"the '{profile}' stack is already running (pid {os.getpid()})" in answer
    assert other_process_tries(profile) == "acquired"


def test_a_killed_owner_leaves_the_stack_free(profile: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, profile], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"  # blocks until the lock is held
        assert "already running" in other_process_tries(profile)
    finally:
        holder.send_signal(signal.SIGKILL)  # no clean exit: the lock must go with the process
        holder.wait(timeout=30)
        assert holder.stdin is not None
        holder.stdin.close()
    assert other_process_tries(profile) == "acquired"
