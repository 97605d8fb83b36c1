"""README's table of settings is the one the settings classes give (devtools/settings_table.py)."""

from __future__ import annotations

from devtools import settings_table
from devtools.infra import REPO_ROOT


def test_the_readme_lists_every_setting_as_the_code_has_it() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table.readme_block(readme) == settings_table.table(), (
        "README's settings table is stale: python -m devtools.settings_table --write"
    )


def test_every_service_setting_has_a_row_and_secrets_show_no_value() -> None:
    text = settings_table.table()
    for variable in (
        "`INTAKE_RETENTION_YEARS`",
        "`ROUTING_MAX_TRANSFERS`",
        "`SLA_HTTP_PORT`",
        "`METRICS_ALLOW`",
    ):
        assert variable in text, variable
    secret_rows = [row for row in text.splitlines() if "SECRET" in row or "PASSWORD" in row]
    assert secret_rows and all(
        "(development value; set your own)" in row or "| (none) |" in row for row in secret_rows
    )
    from services.intake.settings import DEV_IDEMPOTENCY_SECRET, DEV_NOTIFY_SECRET
    from shared.auth import DEV_SECRET

    assert not any(dev in text for dev in (DEV_SECRET, DEV_IDEMPOTENCY_SECRET, DEV_NOTIFY_SECRET))


def test_every_setting_says_what_it_is() -> None:
    """An operator reading the table learns what each variable does: a comment right above each
    field (or its description) is required."""
    rows = settings_table.rows()[2:]
    unexplained = [row.split("|")[2].strip() for row in rows if row.rstrip().endswith("|  |")]
    assert not unexplained, f"settings without a comment above their field: {unexplained}"
