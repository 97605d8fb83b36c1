"""Every secret of the registry (shared/startup.py) may come from `<NAME>_FILE`, as Docker and
Kubernetes mount secrets (shared/settings.py): the file's text with its trailing newline; both
set is an error naming both; a file that cannot be read is an error naming its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.intake.settings import IntakeSettings
from services.sla.settings import SlaSettings
from shared import auth, startup
from shared.settings import SecretFileError, value_from_file

REGISTERED = ("STAFF_JWT_SECRET", "OPEN311_API_KEY", "INTAKE_IDEMPOTENCY_SECRET")
SECRET = "r" * 40


@pytest.fixture(autouse=True)
def _no_secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*REGISTERED, "INTAKE_OPEN311_API_KEY", "STAFF_JWKS_URL", "MONGO_URI", "SLA_MONGO_URI"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secret"
    path.write_text(text)
    return path


def test_the_registry_has_the_secrets_this_test_covers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret added to the registry is added here, so its `_FILE` form is tested too."""
    for name in REGISTERED:
        monkeypatch.setenv(name, SECRET)
    assert {secret.name for secret in startup.registered_secrets()} == set(REGISTERED)


@pytest.mark.parametrize("name", REGISTERED)
def test_each_registered_secret_comes_from_its_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"{name}_FILE", str(_file(tmp_path, SECRET + "\n")))
    [secret] = [s for s in startup.registered_secrets() if s.name == name]
    assert (secret.value, secret.is_default) == (SECRET, False)
    assert startup.problems("0.0.0.0", [secret]) == []


def test_the_services_read_the_file_value_where_they_read_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_IDEMPOTENCY_SECRET_FILE", str(_file(tmp_path, SECRET + "\r\n")))
    assert IntakeSettings().idempotency_secret == SECRET
    monkeypatch.setenv("OPEN311_API_KEY_FILE", str(_file(tmp_path, SECRET)))
    assert IntakeSettings().open311.api_key == SECRET
    monkeypatch.setenv("STAFF_JWT_SECRET_FILE", str(_file(tmp_path, SECRET)))
    assert auth.StaffAuthSettings().jwt_secret == SECRET


def test_a_prefixed_file_beats_the_shared_variable_as_the_prefixed_variable_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = "mongodb://pengaduan:rahasia@mongo:27017/?replicaSet=rs0&authSource=admin"
    monkeypatch.setenv("MONGO_URI", "mongodb://elsewhere:27017/")
    monkeypatch.setenv("SLA_MONGO_URI_FILE", str(_file(tmp_path, uri + "\n")))
    assert SlaSettings().mongo_uri == uri
    monkeypatch.delenv("SLA_MONGO_URI_FILE")
    monkeypatch.delenv("MONGO_URI")
    monkeypatch.setenv("MONGO_URI_FILE", str(_file(tmp_path, uri)))
    monkeypatch.setenv("SLA_MONGO_URI", "mongodb://sla-own:27017/")
    assert SlaSettings().mongo_uri == "mongodb://sla-own:27017/"


def test_both_set_is_an_error_naming_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_JWT_SECRET", SECRET)
    monkeypatch.setenv("STAFF_JWT_SECRET_FILE", str(_file(tmp_path, SECRET)))
    with pytest.raises(SecretFileError, match="STAFF_JWT_SECRET and STAFF_JWT_SECRET_FILE are both set"):
        auth.StaffAuthSettings()


def test_a_missing_file_is_an_error_naming_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "not-mounted" / "idempotency"
    monkeypatch.setenv("INTAKE_IDEMPOTENCY_SECRET_FILE", str(missing))
    with pytest.raises(SecretFileError, match=f"INTAKE_IDEMPOTENCY_SECRET_FILE: cannot read {missing}"):
        IntakeSettings()


def test_an_unreadable_file_is_an_error_naming_its_path(tmp_path: Path) -> None:
    # A directory where the file should be: unreadable as a file for any user, root included.
    with pytest.raises(SecretFileError, match=f"OPEN311_API_KEY_FILE: cannot read {tmp_path}"):
        value_from_file("OPEN311_API_KEY", {"OPEN311_API_KEY_FILE": str(tmp_path)})


def test_an_empty_variable_does_not_count_as_set(tmp_path: Path) -> None:
    path = _file(tmp_path, SECRET)
    assert value_from_file("X", {"X": "", "X_FILE": str(path)}) == SECRET
    assert value_from_file("X", {"X": SECRET}) is None


def test_the_start_up_check_exits_naming_a_file_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAFF_JWT_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(SystemExit) as exited:
        startup.refuse_insecure_start("127.0.0.1")
    assert exited.value.code == startup.EXIT_INSECURE
    err = capsys.readouterr().err
    assert f"STAFF_JWT_SECRET_FILE: cannot read {tmp_path / 'absent'}" in err and "Traceback" not in err
