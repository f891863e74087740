"""Settings precedence (defaults < settings.toml < CLINIC_* < flags) and finding resources."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from desktop import resources
from desktop.cli import main
from desktop.resources import resource_path
from desktop.settings import Settings, SettingsError, config_file, load_settings
from desktop.store.local import DB_NAME

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CLINIC_* from the machine, and platform dirs inside the test's temp dir."""
    for name in [n for n in os.environ if n.startswith("CLINIC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def write_config(text: str) -> Path:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_come_from_the_platform_dirs(isolated: Path) -> None:
    settings = load_settings()
    assert config_file() == isolated / "config" / "ClinicDesk" / "settings.toml"
    assert settings.data_dir == isolated / "data" / "ClinicDesk"
    assert settings.server_url is None
    assert settings.device_kind == "desk"
    assert settings.log_level == "WARNING"
    assert settings.model_fields_set == set()


def test_file_then_environment_then_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_config(
        f'data_dir = "{tmp_path / "from-file"}"\ndevice_kind = "kiosk"\nserver_url = "https://clinic.example:8443/"\n'
    )
    from_file = load_settings()
    assert from_file.data_dir == tmp_path / "from-file"
    assert from_file.device_kind == "kiosk"
    assert from_file.server_url == "https://clinic.example:8443"

    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("CLINIC_LOG_LEVEL", "debug")
    from_env = load_settings()
    assert from_env.data_dir == tmp_path / "from-env"  # the environment beats the file
    assert from_env.device_kind == "kiosk"  # what the environment does not say, the file still does
    assert from_env.log_level == "DEBUG"

    from_flag = load_settings(data_dir=str(tmp_path / "from-flag"), device_kind=None)
    assert from_flag.data_dir == tmp_path / "from-flag"  # a flag beats the environment
    assert from_flag.device_kind == "kiosk"  # None means "flag not given"


def test_the_cli_flag_beats_the_environment_before_or_after_the_subcommand(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path / "env"))
    assert main(["--data-dir", str(tmp_path / "before"), "init", "--clinic-name", "A"]) == 0
    assert main(["init", "--clinic-name", "B", "--data-dir", str(tmp_path / "after")]) == 0
    assert main(["init", "--clinic-name", "C"]) == 0
    for name in ("before", "after", "env"):
        assert (tmp_path / name / DB_NAME).exists()


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ("", {"CLINIC_DEVICE_KIND": "tv"}, "Invalid setting device_kind"),
        ("", {"CLINIC_SERVER_URL": "ftp://clinic"}, "Invalid setting server_url: must start with http"),
        ('colour = "blue"\n', {}, "Unknown setting 'colour'"),
        ("data_dir = \n", {}, "is not valid TOML"),
    ],
)
def test_bad_settings_are_reported_with_where_to_fix_them(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    config: str,
    env: dict[str, str],
    expected: str,
) -> None:
    if config:
        write_config(config)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=expected):
        load_settings()
    assert main(["--data-dir", str(tmp_path / "d"), "init", "--clinic-name", "X"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()  # nothing done with bad settings


def test_every_setting_is_a_flag() -> None:
    from desktop.cli_support import global_options

    flags = {a.dest for a in global_options()._actions}
    assert set(Settings.model_fields) <= flags


def test_resource_path_finds_the_resources_readme() -> None:
    path = resource_path("README.md")
    assert path == REPO / "resources" / "README.md"
    assert "resource_path" in path.read_text(encoding="utf-8")


def test_a_missing_resource_fails_loudly() -> None:
    with pytest.raises(FileNotFoundError, match=r"no-such-icon\.png"):
        resource_path("icons", "no-such-icon.png")


def test_resource_path_in_a_pyinstaller_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "resources" / "sounds").mkdir(parents=True)
    (tmp_path / "resources" / "sounds" / "chime.wav").write_bytes(b"RIFF")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resource_path("sounds", "chime.wav") == tmp_path / "resources" / "sounds" / "chime.wav"


@pytest.mark.slow
def test_the_wheel_ships_resources_and_they_are_found_when_installed(tmp_path: Path) -> None:
    """Build the wheel offline from a copy of the sources, unpack it as site-packages would hold
    it, and ask the installed `resource_path` for the README."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("desktop", "server_stub", "resources"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            "dist",
            str(source),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("clinicdesk-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {"resources/README.md", "resources/__init__.py", "desktop/resources.py"} <= names
        assert not any("__pycache__" in n for n in names)
        archive.extractall(tmp_path / "site")
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "from desktop.resources import resource_path; print(resource_path('README.md'))",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(found) == tmp_path / "site" / "resources" / "README.md"
