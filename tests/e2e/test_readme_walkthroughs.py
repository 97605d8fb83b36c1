"""The README's walkthroughs work as written: their shell blocks (each after a
`<!-- walkthrough: … -->` marker), in order, in one bash, against the e2e stack. Only the
addresses (the stack's ports) and the Python (this venv's) are put in; every curl fails the run
on an HTTP error (`--fail-with-body`), and the script stops at the first failing command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.infra import REPO_ROOT
from devtools.services import ServiceSet
from tests.e2e.conftest import E2E_PORTS

pytestmark = pytest.mark.e2e

BLOCK = re.compile(r"<!-- walkthrough: (?P<name>[^>]+?) -->\n```sh\n(?P<body>.*?)```", re.S)
PORTS = {"8081": "intake", "8082": "routing", "8083": "sla"}


def walkthroughs() -> list[tuple[str, str]]:
    return [(m["name"], m["body"]) for m in BLOCK.finditer((REPO_ROOT / "README.md").read_text())]


def test_every_role_has_a_walkthrough() -> None:
    names = [name for name, _ in walkthroughs()]
    for role in ("citizen", "handler", "coordinator", "supervisor"):
        assert any(role in name for name in names), (role, names)


def test_the_walkthroughs_run_as_written(services: ServiceSet, tmp_path: Path) -> None:
    script = ["set -euo pipefail", 'curl() { command curl --fail-with-body --max-time 30 "$@"; }']
    for name, body in walkthroughs():
        for port, service in PORTS.items():
            body = body.replace(f"localhost:{port}", f"127.0.0.1:{E2E_PORTS[service]}")
        body = body.replace(".venv/bin/python", sys.executable).replace(
            "/tmp/submitted.json", "$WORK/submitted.json"
        )
        script += [f"echo '=== {name}'", body]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=REPO_ROOT,
        env={**os.environ, "WORK": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    # What each role was shown: the OPD in charge, the queue, the identity (to the coordinator),
    # the supervisor's figures in JSON and CSV.
    assert re.search(r'"opd_id":\s*"35\.73/dinas-perhubungan"', out), out[:2000]
    assert "Dewi Lestari" in out.split("=== coordinator")[1]
    assert "Penugasan" in out.split("=== supervisor")[1]
