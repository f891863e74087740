"""How a message leaves: SMTP (one connection kept for a batch) and a Twilio-style HTTP gateway.

Each `send` returns normally once the far side accepted the message, or raises `SendFailed` with
a reason for staff (never a secret). The dispatcher decides about retries."""

from __future__ import annotations

import smtplib
import ssl
from email.message import Message
from types import TracebackType

import requests

from server_stub.notify.settings import NotifySettings


class SendFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason[:300]


class SmtpTransport:
    """One SMTP connection, opened on the first message and kept for the next ones."""

    def __init__(self, settings: NotifySettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.smtp_host}:{s.smtp_port}"
        try:
            if s.smtp_security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host or "",
                    s.smtp_port,
                    timeout=s.smtp_timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.smtp_timeout_s)
                if s.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailed(f"SMTP login refused by {where}: {_reply(exc)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendFailed(f"SMTP server {where} does not support this: {exc}") from None
        except TimeoutError:
            raise SendFailed(f"SMTP server {where} timed out") from None
        except ConnectionRefusedError:
            raise SendFailed(f"SMTP server {where} is down (connection refused)") from None
        except ssl.SSLError as exc:
            raise SendFailed(f"TLS with SMTP server {where} failed: {exc.reason or exc}") from None
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(f"SMTP server {where} refused: {_reply(exc)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP server {where} unreachable: {exc}") from None
        return smtp

    def send(self, message: Message) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            replies = "; ".join(f"{to}: {_reply_of(*r)}" for to, r in exc.recipients.items())
            raise SendFailed(f"SMTP server refused the recipient ({replies})") from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise SendFailed(f"SMTP server refused the message: {_reply(exc)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            # smtplib reports a reply that never came as a lost connection that "timed out".
            if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                raise SendFailed("SMTP server timed out while sending") from None
            raise SendFailed(f"SMTP connection lost: {exc}") from None
        if refused:
            raise SendFailed(f"SMTP server refused the recipient ({refused})")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _reply_of(exc.smtp_code, exc.smtp_error)


def _reply_of(code: int, text: bytes | str) -> str:
    words = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {words}".strip()


class SmsTransport:
    """A form POST per message (Twilio's `To`, `From`, `Body`), HTTP basic auth, and the message's
    stable id as `Idempotency-Key`, so a gateway that honours it drops a repeat."""

    def __init__(self, settings: NotifySettings):
        self.settings = settings
        self._http = requests.Session()
        if settings.sms_username:
            password = settings.sms_password.get_secret_value() if settings.sms_password else ""
            self._http.auth = (settings.sms_username, password)

    def __enter__(self) -> SmsTransport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    def send(self, *, to: str, body: str, key: str) -> None:
        s = self.settings
        url = s.sms_gateway_url or ""
        form = {"To": to, "From": s.sms_from, "Body": body}
        try:
            answer = self._http.post(
                url, data=form, headers={"Idempotency-Key": key}, timeout=s.sms_timeout_s
            )
        except requests.Timeout:
            raise SendFailed("SMS gateway timed out") from None
        except requests.ConnectionError:
            raise SendFailed("SMS gateway is down (could not connect)") from None
        except requests.RequestException as exc:
            raise SendFailed(f"SMS gateway request failed: {type(exc).__name__}") from None
        if answer.status_code in (401, 403):
            raise SendFailed(f"SMS gateway refused the credentials ({answer.status_code})")
        if not answer.ok:
            raise SendFailed(f"SMS gateway answered {answer.status_code}: {answer.text[:200]}")
