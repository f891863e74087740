"""Where the device keeps its server token: the OS keyring, or a private file on headless boxes.

Each data dir has its own credentials: service `ClinicDesk`, user name
`<secret name>:<absolute data dir>`, so two ClinicDesk installs on one machine (a kiosk and a
test copy, say) never share a token.

Backend, in order:

1. an explicit `backend=` (tests pass one per data dir: they never touch the user's keyring);
2. the OS keyring that `keyring` picks (macOS Keychain, Windows Credential Locker, Secret
   Service / KWallet on a Linux desktop);
3. **the headless fallback** — when `keyring` has nothing better than its `fail` backend or the
   not-recommended file backends of `keyrings.alt` (whose default file lives in the user's home
   with no say over its place): `keyrings.alt.file.PlaintextKeyring` on the file
   `<data dir>/credentials.cfg`, mode 0600.

Why a plaintext file and not keyrings.alt's `EncryptedKeyring`: that one asks for a passphrase
on a terminal at every start, which an unattended kiosk cannot type; storing the passphrase next
to the file would only pretend to protect it. And the data dir is already the security boundary:
it holds the patient database in clear, so whoever can read `credentials.cfg` can read every
record anyway. The token grants no more than the device itself has, and an admin revokes it on
the server if the box is lost. So: run the app as its own service user, keep the data dir
private to it, and `describe()` says which backend is in use.

To force the fallback on a machine whose OS keyring is unusable (a locked Secret Service with no
one to unlock it), set `PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring` (keyring's own
switch). With `fallback=False` a missing keyring is an error instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail
from keyring.errors import KeyringError, PasswordDeleteError
from keyrings.alt.file import PlaintextKeyring
from keyrings.alt.file_base import FileBacked

from desktop.domain.reasons import Reason
from desktop.store.private import private_file
from desktop.sync.errors import CredentialsUnavailable

SERVICE = "ClinicDesk"
DEVICE_TOKEN = "device-token"
USER_SESSION = "user-session"
FALLBACK_FILE = "credentials.cfg"


def _usable(backend: KeyringBackend) -> bool:
    """A real OS keyring: not the `fail` backend, not a not-recommended keyrings.alt file."""
    if isinstance(backend, chainer.ChainerBackend):
        return any(_usable(b) for b in backend.backends)
    return not isinstance(backend, fail.Keyring | FileBacked)


def fallback_backend(data_dir: Path) -> PlaintextKeyring:
    """keyrings.alt's plaintext file backend, on `<data_dir>/credentials.cfg` (mode 0600)."""
    backend = PlaintextKeyring()
    backend.file_path = str(Path(data_dir).resolve() / FALLBACK_FILE)  # type: ignore[misc]
    return backend


class Credentials:
    """The secrets of one data dir: the device token and the remembered clinician session."""

    def __init__(self, data_dir: Path, *, backend: KeyringBackend | None = None, fallback: bool = True):
        self.data_dir = Path(data_dir).resolve()
        if backend is None:
            backend = keyring.get_keyring()
            if not _usable(backend):
                if not fallback:
                    raise CredentialsUnavailable(Reason.of("sync.no_keyring"))
                backend = fallback_backend(self.data_dir)
        self.backend = backend

    @property
    def file_path(self) -> Path | None:
        """The file holding the secrets, for file backends."""
        path = getattr(self.backend, "file_path", None)
        return Path(path) if isinstance(path, str) else None

    def describe(self) -> str:
        """Which backend holds the secrets, in words staff and admins can act on."""
        path = self.file_path
        name = f"{type(self.backend).__module__}.{type(self.backend).__name__}"
        if isinstance(self.backend, PlaintextKeyring) and path is not None:
            return f"file {path} (keyrings.alt PlaintextKeyring, readable by this user only: no OS keyring)"
        if path is not None:
            return f"file {path} ({name})"
        return f"OS keyring ({name})"

    def _key(self, name: str) -> str:
        return f"{name}:{self.data_dir}"

    def get(self, name: str) -> str | None:
        try:
            return self.backend.get_password(SERVICE, self._key(name))
        except KeyringError as exc:
            raise CredentialsUnavailable(
                Reason.of("sync.keyring_read", name=name, problem=str(exc))
            ) from None

    def set(self, name: str, secret: str) -> None:
        self._prepare_file()
        try:
            self.backend.set_password(SERVICE, self._key(name), secret)
        except KeyringError as exc:
            raise CredentialsUnavailable(
                Reason.of("sync.keyring_store", name=name, problem=str(exc))
            ) from None
        self._prepare_file()

    def delete(self, name: str) -> None:
        try:
            self.backend.delete_password(SERVICE, self._key(name))
        except PasswordDeleteError:
            pass  # nothing stored: nothing to forget
        except KeyringError as exc:
            raise CredentialsUnavailable(
                Reason.of("sync.keyring_forget", name=name, problem=str(exc))
            ) from None

    def device_token(self) -> str | None:
        return self.get(DEVICE_TOKEN)

    def save_device_token(self, token: str) -> None:
        self.set(DEVICE_TOKEN, token)

    def _prepare_file(self) -> None:
        """Create the backend's file owner-only before any secret goes in; keep it that way."""
        path = self.file_path
        if path is None:
            return
        private_file(path)
        if stat.S_IMODE(path.stat().st_mode) != 0o600:
            os.chmod(path, 0o600)


def describe(data_dir: Path) -> str:
    """Which backend keeps this data dir's secrets (for `clinic` diagnostics and the UI's about box)."""
    return Credentials(data_dir).describe()
