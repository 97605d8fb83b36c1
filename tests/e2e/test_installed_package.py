"""The package works as installed: the wheel built from this tree, installed into a fresh
virtual environment outside it, starts each service (`python -m services.<name>` from a directory
without sources) against the real servers: every `/readyz` answers 200, sla's dashboard page
and its files are served, and routing classifies an uncategorised text (its trained model is
read on first use) — the files the code opens at run time are in the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from devtools import infra
from devtools.infra import REPO_ROOT
from devtools.services import SERVICES, ServiceSet, service_env, wait_ready

pytestmark = pytest.mark.e2e

PORTS = {name: 18681 + 10 * infra.test_slot() + i for i, name in enumerate(SERVICES)}


def _run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding the built wheel; the third-party packages are this environment's
    (a path entry, so nothing is downloaded), the project itself only the wheel's copy."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"  # a copy: building writes build/ and *.egg-info next to the sources
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("shared", "services", "devtools"):
        shutil.copytree(REPO_ROOT / part, source / part, ignore=ignore)
    shutil.copy(REPO_ROOT / "pyproject.toml", source)
    python = sys.executable
    _run(
        python,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        base / "dist",
        ".",
        cwd=source,
    )
    [wheel] = (base / "dist").glob("pengaduan-*.whl")
    venv = base / "venv"
    _run(python, "-m", "venv", venv, cwd=base)
    purelib = Path(
        _run(
            venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=base
        ).strip()
    )
    # .pth files inside an added path are not read: this environment's editable finder (which
    # maps `services` to the source tree) stays out, and only the wheel's copy is importable.
    (purelib / "third_party.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel, cwd=base)
    where = _run(venv / "bin" / "python", "-c", "import services, shared; print(services.__file__)", cwd=base)
    assert where.startswith(str(purelib)), where  # the installed copy, not the sources
    yield venv / "bin" / "python"


@pytest.fixture
def running(installed: Path, endpoints: infra.Endpoints, tmp_path: Path) -> Iterator[ServiceSet]:
    services = ServiceSet(PORTS)
    logs = infra.run_dir(infra.test_profile()) / "installed"
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    try:
        for name in SERVICES:
            server = infra.Server(name, logs / f"{name}.pid", logs / f"{name}.log")
            with server.logfile.open("wb") as out:
                process = subprocess.Popen(
                    [str(installed), "-m", f"services.{name}"],
                    cwd=tmp_path,  # no sources here
                    env=service_env(name, endpoints, PORTS[name], "installed_"),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            server.pidfile.write_text(str(process.pid))
            services.servers[name] = server
            processes.append(process)
        yield services
    finally:
        services.stop()
        for process in processes:
            process.wait(timeout=30)


async def test_every_service_starts_from_the_installed_wheel(running: ServiceSet) -> None:
    await wait_ready(running, timeout=120)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        for name in SERVICES:
            async with http.get(f"{running.url(name)}/readyz") as resp:
                assert resp.status == 200, (name, await resp.text())
            # The API documents and Swagger UI's files (from its package) as installed.
            for path in ("/openapi.json", "/docs", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"):
                async with http.get(f"{running.url(name)}{path}") as resp:
                    assert resp.status == 200, (name, path)
        sla = running.url("sla")
        async with http.get(f"{sla}/dashboard/") as page:
            assert page.status == 200 and "<html" in (await page.text()).lower()
        for asset in ("dashboard.js", "dashboard.css"):
            async with http.get(f"{sla}/dashboard/static/{asset}") as resp:
                assert resp.status == 200, asset
        explain = {"region_code": "34.71.01.1001", "title": "Air PDAM mati", "description": "sudah tiga hari"}
        async with http.post(f"{running.url('routing')}/api/v1/routing/explain", json=explain) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["category"] == "air-minum"


def test_the_notification_templates_ship_with_the_wheel(installed: Path, tmp_path: Path) -> None:
    """Intake opens its notification templates only when notifications are configured: check
    here that the wheel holds them all (pyproject's package-data), rendering each kind."""
    script = (
        "from services.intake.adapters.notify_templates import Links, Templates\n"
        "t = Templates(); t.check()\n"
        "kinds = ['received', 'assigned', 'information_requested', 'information_reminder', 'answered',\n"
        "         'resolved', 'closed', 'archived', 'escalated']\n"
        "facts = {'opd_id': '33.74/dlh', 'due': '2026-03-28T00:00:00+07:00', 'days': 3,\n"
        "         'reply_until': '2026-03-28T00:00:00+07:00', 'outcome': 'expired'}\n"
        "links = Links.of('https://x', 'C1', 'tok', 'lacak')\n"
        "for kind in kinds:\n"
        "    for channel in ('email', 'sms'):\n"
        "        m = t.message({'_id': 'E:' + channel, 'kind': kind, 'channel': channel,\n"
        "                       'complaint_id': 'C1', 'facts': facts}, 'to', links)\n"
        "        assert m.subject and m.text, kind\n"
        "print(len(kinds))\n"
    )
    assert _run(installed, "-c", script, cwd=tmp_path).strip() == "9"
