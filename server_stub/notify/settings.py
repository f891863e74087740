"""The dispatcher's settings: SMTP, the SMS gateway, timing. From (lowest to highest) defaults,
`server.toml` beside the app's `settings.toml` (`desktop.settings.config_file()`), and `CLINIC_*`
environment variables (`CLINIC_SMTP_HOST`...). Secrets are `SecretStr`: never printed or logged."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from desktop.settings import ENV_PREFIX, SettingsError, config_file

SERVER_FILE_NAME = "server.toml"


def server_file() -> Path:
    return config_file().with_name(SERVER_FILE_NAME)


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    smtp_host: str | None = Field(default=None, description="SMTP server (none: no e-mail is sent).")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (port 587), tls (implicit, port 465) or none."
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default="", description="The From address, also the invitation's organiser.")
    smtp_timeout_s: float = Field(default=15.0, gt=0)

    sms_gateway_url: str | None = Field(
        default=None, description="Twilio-style form POST endpoint (none: no SMS is sent)."
    )
    sms_username: str | None = Field(default=None, description="HTTP basic user (Twilio: the account SID).")
    sms_password: SecretStr | None = None
    sms_from: str = Field(default="", description="The sender number or name.")
    sms_timeout_s: float = Field(default=10.0, gt=0)

    dispatch_enabled: bool = Field(default=True, description="Run the dispatcher in `clinic server run`.")
    dispatch_interval_s: float = Field(
        default=2.0, gt=0, description="How often due messages are looked for."
    )
    dispatch_batch: int = Field(default=50, ge=1, le=1000)
    dispatch_senders: int = Field(
        default=4, ge=1, le=32, description="Messages sent at once (each its own SMTP connection)."
    )
    dispatch_lease_s: float = Field(default=120.0, gt=0, description="How long a claimed batch is held.")
    dispatch_max_attempts: int = Field(default=5, ge=1)
    dispatch_retry_base_s: float = Field(default=60.0, gt=0)
    dispatch_retry_cap_s: float = Field(default=3600.0, gt=0)

    @property
    def email_problem(self) -> str | None:
        """Why no e-mail can be sent, or None."""
        if not self.smtp_host:
            return (
                f"not configured: set {ENV_PREFIX}SMTP_HOST (and SMTP_FROM) or smtp_host in {server_file()}"
            )
        if "@" not in self.smtp_from:
            return f"not configured: {ENV_PREFIX}SMTP_FROM must be an e-mail address"
        if self.smtp_username and self.smtp_password is None:
            return f"not configured: {ENV_PREFIX}SMTP_USERNAME is set without {ENV_PREFIX}SMTP_PASSWORD"
        return None

    @property
    def sms_problem(self) -> str | None:
        if not self.sms_gateway_url:
            return f"not configured: set {ENV_PREFIX}SMS_GATEWAY_URL or sms_gateway_url in {server_file()}"
        if not self.sms_gateway_url.startswith(("http://", "https://")):
            return f"not configured: {ENV_PREFIX}SMS_GATEWAY_URL must start with http:// or https://"
        if not self.sms_from:
            return f"not configured: set {ENV_PREFIX}SMS_FROM"
        return None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=server_file()))


def load_notify_settings(**given: object) -> NotifySettings:
    """The settings, or SettingsError naming what is wrong and where (never a secret's value)."""
    try:
        return NotifySettings(**given)  # type: ignore[arg-type]
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{server_file()} is not valid TOML: {exc}.") from None
    except ValidationError as exc:
        problems = [f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        raise SettingsError(
            f"Invalid server setting ({server_file()} or environment): {'; '.join(problems)}."
        ) from None
