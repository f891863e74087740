"""Where the device token is kept: the OS keyring when there is one, else a private file in the
data dir. Every test picks the backend itself: none touches the user's real keyring."""

from __future__ import annotations

import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends import chainer, fail
from keyrings.alt.file import PlaintextKeyring

from desktop.sync.credentials import FALLBACK_FILE, SERVICE, Credentials
from desktop.sync.errors import CredentialsUnavailable
from tests.sync_support import MemoryKeyring


@pytest.fixture
def headless(monkeypatch: pytest.MonkeyPatch) -> None:
    """A box with no OS keyring: keyring has nothing better than its `fail` backend."""
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())


def test_a_headless_box_keeps_the_token_in_a_private_file_in_the_data_dir(
    headless: None, tmp_path: Path
) -> None:
    credentials = Credentials(tmp_path)
    assert isinstance(credentials.backend, PlaintextKeyring)
    assert credentials.device_token() is None
    credentials.save_device_token("s3cret-token")
    path = tmp_path / FALLBACK_FILE
    assert credentials.file_path == path.resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Credentials(tmp_path).device_token() == "s3cret-token"  # after a restart
    described = credentials.describe()
    assert (
        str(path.resolve()) in described and "PlaintextKeyring" in described and "no OS keyring" in described
    )


def test_each_data_dir_has_its_own_token(headless: None, tmp_path: Path) -> None:
    one, two = Credentials(tmp_path / "one"), Credentials(tmp_path / "two")
    one.save_device_token("first")
    two.save_device_token("second")
    assert (one.device_token(), two.device_token()) == ("first", "second")
    shared = MemoryKeyring()  # one OS keyring, two installs: keys differ by data dir
    a, b = Credentials(tmp_path / "a", backend=shared), Credentials(tmp_path / "b", backend=shared)
    a.save_device_token("A")
    b.save_device_token("B")
    assert (a.device_token(), b.device_token()) == ("A", "B")
    assert {service for service, _ in shared.secrets} == {SERVICE}
    a.delete("device-token")
    a.delete("device-token")  # forgetting twice is fine
    assert (a.device_token(), b.device_token()) == (None, "B")


def test_a_file_already_there_with_loose_permissions_is_tightened(headless: None, tmp_path: Path) -> None:
    path = tmp_path / FALLBACK_FILE
    path.write_text("")
    path.chmod(0o644)
    Credentials(tmp_path).save_device_token("t")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keyrings_alts_own_file_in_the_home_dir_does_not_count_as_a_keyring(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(keyring, "get_keyring", lambda: PlaintextKeyring())
    credentials = Credentials(tmp_path)
    assert credentials.file_path == (tmp_path / FALLBACK_FILE).resolve()  # in the data dir, not in ~
    not_recommended = property(lambda _self: [fail.Keyring(), PlaintextKeyring()])
    monkeypatch.setattr(chainer.ChainerBackend, "backends", not_recommended)
    monkeypatch.setattr(keyring, "get_keyring", lambda: chainer.ChainerBackend())
    assert Credentials(tmp_path).file_path == (tmp_path / FALLBACK_FILE).resolve()


def test_a_real_keyring_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    os_keyring = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: os_keyring)
    credentials = Credentials(tmp_path)
    credentials.save_device_token("in the keychain")
    assert credentials.backend is os_keyring and credentials.file_path is None
    assert credentials.describe().startswith("OS keyring (tests.sync_support.MemoryKeyring)")
    assert not (tmp_path / FALLBACK_FILE).exists()


def test_without_the_fallback_a_missing_keyring_is_a_clear_error(headless: None, tmp_path: Path) -> None:
    with pytest.raises(CredentialsUnavailable) as raised:
        Credentials(tmp_path, fallback=False)
    assert "No keyring is available" in raised.value.message


def test_a_keyring_that_refuses_is_reported_not_swallowed(tmp_path: Path) -> None:
    credentials = Credentials(tmp_path, backend=fail.Keyring())
    with pytest.raises(CredentialsUnavailable, match="refused"):
        credentials.save_device_token("t")
    with pytest.raises(CredentialsUnavailable, match="refused"):
        credentials.device_token()
