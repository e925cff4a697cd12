import base64
import stat

import pytest

from moorage.errors import InvalidInput
from moorage.security.crypto import Keyring, SecretError, load_keyring

KEY_A = b"a" * 32
KEY_B = b"b" * 32


def test_seal_then_open_round_trips_and_hides_the_plaintext():
    keyring = Keyring(KEY_A)
    sealed = keyring.seal("hunter2-password", "machine.password")
    assert sealed.startswith(f"v1:{keyring.current_id}:")
    assert "hunter2" not in sealed
    assert keyring.open(sealed, "machine.password") == "hunter2-password"
    assert keyring.seal("same", "ctx") != keyring.seal("same", "ctx")  # fresh nonce each time


def test_a_value_sealed_for_one_field_does_not_open_as_another():
    keyring = Keyring(KEY_A)
    sealed = keyring.seal("secret", "machine.password")
    with pytest.raises(SecretError, match="failed authentication"):
        keyring.open(sealed, "reservation.password")


def test_tampering_is_detected():
    keyring = Keyring(KEY_A)
    version, key_id, body = keyring.seal("secret", "ctx").split(":")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 1
    tampered = f"{version}:{key_id}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(SecretError):
        keyring.open(tampered, "ctx")


def test_rotation_opens_old_values_with_a_retired_key_and_seals_with_the_new():
    old = Keyring(KEY_A).seal("kept across rotation", "ctx")
    rotated = Keyring(KEY_B, retired=[KEY_A])
    assert rotated.open(old, "ctx") == "kept across rotation"
    assert rotated.needs_rotation(old)
    assert not rotated.needs_rotation(rotated.seal("new", "ctx"))
    with pytest.raises(SecretError, match="not configured"):
        Keyring(KEY_B).open(old, "ctx")


def test_malformed_values_are_refused():
    for value in ("", "v1:abc", "v2:abc:def", "v1:abc:!!!"):
        with pytest.raises(SecretError):
            Keyring(KEY_A).open(value, "ctx")


def test_a_key_file_is_generated_once_with_mode_0600(tmp_path):
    first = load_keyring(tmp_path, None, None)
    second = load_keyring(tmp_path, None, None)
    assert first.current_id == second.current_id
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_an_explicit_key_must_be_long_and_old_keys_are_honoured(tmp_path):
    with pytest.raises(InvalidInput):
        load_keyring(tmp_path, "short", None)
    old = load_keyring(tmp_path, "o" * 40, None).seal("value", "ctx")
    keyring = load_keyring(tmp_path, "n" * 40, "o" * 40)
    assert keyring.open(old, "ctx") == "value"
    assert not (tmp_path / "secret.key").exists()
