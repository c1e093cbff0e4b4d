"""``dojo-pulse backup``: help that helps, hostile arguments and settings in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dojo_pulse.cli import main
from stream.settings import Settings, SettingsError


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    base = {"DOJO_BACKUP_DIR": str(tmp_path), "DOJO_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(main, ["backup", *args], env={**base, **(env or {})})
    return result.exit_code, result.output


def test_help_lists_every_command_and_what_a_backup_holds(tmp_path: Path) -> None:
    code, out = run(tmp_path, "--help")
    assert code == 0
    for command in ("create", "list", "verify", "prune", "restore", "drill", "schedule"):
        assert command in out
    assert "Never the visitor salts" in out and "DOJO_BACKUP_DIR" in out
    code, out = run(tmp_path, "restore", "--help")
    assert code == 0 and "Restore onto a new machine" in out and "--dry-run" in out


@pytest.mark.parametrize(
    "backup_id",
    [
        "nope",
        "../../etc",
        "/" + "x" * 5000,
        "x" * 5000,
        "é\u0000",
        "latest",
        "20261203T020101Z-1a2b3c",
    ],
)
def test_a_backup_that_is_not_there_is_one_line(tmp_path: Path, backup_id: str) -> None:
    for command in ("verify", "restore", "drill"):
        code, out = run(tmp_path, command, backup_id)
        assert code == 1, out
        assert out.startswith("Error: no backup") and out.count("\n") == 1


def test_list_and_prune_on_an_empty_directory(tmp_path: Path) -> None:
    assert run(tmp_path, "list") == (0, f"no backups in {tmp_path}\n")
    assert run(tmp_path, "prune") == (0, "nothing to prune\n")


def test_unreadable_directories_are_listed_as_such(tmp_path: Path) -> None:
    (tmp_path / "20260101T000000Z-abcdef").mkdir()
    (tmp_path / "20260101T000000Z-abcdef" / "manifest.json").write_bytes(b"\xff{")
    code, out = run(tmp_path, "list")
    assert code == 0 and "unreadable" in out and "cannot be read" in out
    code, out = run(tmp_path, "verify", "20260101T000000Z-abcdef")
    assert code == 1 and "cannot be read" in out


@pytest.mark.parametrize("keep", ["7,4", "7,4,6,1", "7,x,6", "-1,4,6", "", "\uff17,4,6"])
def test_hostile_retention_settings_are_refused(keep: str) -> None:
    with pytest.raises(SettingsError, match="DOJO_BACKUP_KEEP"):
        Settings.from_env({"DOJO_BACKUP_KEEP": keep})


@pytest.mark.parametrize("key", ["short", "A" * 44, "🔑" * 11])
def test_a_hostile_key_is_one_line_and_never_echoed(tmp_path: Path, key: str) -> None:
    code, out = run(tmp_path, "create", env={"DOJO_BACKUP_KEY": key})
    assert code == 1 and "DOJO_BACKUP_KEY must be 32 bytes" in out and key not in out
