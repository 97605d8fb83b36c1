"""Entry point of `make run` / `make test`: stdlib only, so it runs before any install.

It creates `.venv` and installs the project into it whenever `pyproject.toml` changed, then hands
over to `devtools.cli` inside that environment. Make holds no logic; this file is all of it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


def ensure_environment() -> None:
    stamp = VENV / ".pyproject.sha256"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the project and its dependencies (pip)", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    stamp.write_text(wanted)


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        print(f"Python 3.11 is required (this is {sys.version.split()[0]})", file=sys.stderr)
        return 2
    ensure_environment()
    os.chdir(ROOT)
    argv = [str(PYTHON), "-m", "devtools.cli", *sys.argv[1:]]
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())
