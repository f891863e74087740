"""The one settings object: defaults < `settings.toml` in the platform config dir < `CLINIC_*`
environment variables < command-line flags.

Every setting is declared once, below, with its type, default and description; the `clinic`
command turns each into a global flag (`data_dir` -> `--data-dir`), the environment names are
`CLINIC_` + the field name in capitals (`CLINIC_DATA_DIR`), and the file uses the field names:

    # ~/.config/ClinicDesk/settings.toml on Linux (see `config_file()`)
    data_dir = "/srv/clinicdesk"
    device_kind = "kiosk"
    server_url = "https://clinic.example:8443"
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from platformdirs import user_config_dir, user_data_dir
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "ClinicDesk"
ENV_PREFIX = "CLINIC_"
CONFIG_FILE_NAME = "settings.toml"

DeviceKind = Literal["kiosk", "desk", "board"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def config_file() -> Path:
    """Where the settings file is looked for (it is optional)."""
    return Path(user_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILE_NAME


def default_data_dir() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False))


class SettingsError(Exception):
    """A setting from the file, the environment or a flag is unusable; `message` says which."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder of this device's database and files (default: the platform's user-data dir).",
    )
    server_url: str | None = Field(
        default=None,
        description="Sync server, e.g. https://clinic.example:8443 (none: work offline only).",
    )
    device_kind: DeviceKind = Field(
        default="desk",
        description="What this machine is: kiosk, desk (a clinician's room) or board (waiting-room display).",
    )
    log_level: LogLevel = Field(default="WARNING", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    camera: str = Field(
        default="0", description="Camera for calls: an index (0), a device path or a URL (rtsp://, http://)."
    )
    microphone: str = Field(
        default="", description="Microphone for calls, as the OS names it (empty: the default)."
    )
    speaker: str = Field(default="", description="Speaker for calls, as the OS names it (empty: default).")
    ice_servers: str = Field(
        default="",
        description="STUN/TURN servers for calls, comma-separated, e.g. turn:user:secret@turn.example:3478 "
        "(none: the clinic's network only; an unreachable STUN server delays each call by 5 s).",
    )

    @field_validator("data_dir")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("server_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/")
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must start with http:// or https:// and name a host")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: flags (passed as init values), then the environment, then the file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))


def load_settings(**flags: Any) -> Settings:
    """Settings with `flags` (command-line values; None means "not given") on top of the rest."""
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return Settings(**given)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{config_file()} is not valid TOML: {exc}.") from None
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        where = f"--{name.replace('_', '-')}, {ENV_PREFIX}{name.upper()} or {config_file()}"
        if error["type"] == "extra_forbidden":
            lines.append(f"Unknown setting '{name}' (in {config_file()} or the flags).")
        else:
            lines.append(
                f"Invalid setting {name}: {error['msg'].removeprefix('Value error, ')} (check {where})."
            )
    return "\n".join(lines)


# Libraries whose warnings are routine for a device that goes offline: urllib3 logs every retry
# of a refused connection as a WARNING, before the client's own one-line "offline" report.
CHATTY_LOGGERS = ("urllib3",)


def configure_logging(level: LogLevel) -> None:
    """Log to stderr at `level`; the chatty libraries' warnings only at INFO or lower."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    quiet = logging.getLevelName(level) > logging.INFO
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.NOTSET)
