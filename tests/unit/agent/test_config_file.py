"""The agent's config file on each platform: JSON at ``/etc/moorage-agent.json`` on POSIX
(mode 0600), TOML at ``%ProgramData%\\Moorage\\agent.toml`` on Windows (locked down
with ``icacls`` before the credential is written), read back equal."""

from __future__ import annotations

import json
import stat
import tomllib

import pytest

from moorage.agent.enrolment import dump_toml, load_config, save_config
from moorage.agent.platforms import Platform
from tests.unit.agent.test_platforms import Recorder

CONFIG = {
    "server": "https://hub.example:8443/moorage",
    "node_id": "01HZX",
    "credential": 'mra_abc"\\\n\t\x7f é 🚢',
    "name": "poste-01",
    "interval": 10,
    "ratio": 0.5,
    "allow_actions": False,
    "tags": ["lab", "room 2"],
}


def test_toml_is_read_back_equal_by_tomllib():
    assert tomllib.loads(dump_toml(CONFIG)) == CONFIG


def test_toml_refuses_what_it_cannot_write():
    with pytest.raises(TypeError):
        dump_toml({"nested": {"a": 1}})
    with pytest.raises(TypeError):
        dump_toml({"none": None})


def test_windows_config_is_toml_locked_down_before_it_holds_the_credential(tmp_path):
    folder = tmp_path / "Moorage"
    path = folder / "agent.toml"
    seen: list[str] = []

    def run(argv, **kwargs):
        target = argv[1].rstrip("\\")
        # When the ACL is set, the file must not hold the credential yet.
        seen.append(target if target == str(folder) else open(target).read())
        return Recorder()(argv, **kwargs)

    save_config(path, CONFIG, Platform("win32", run=run))
    assert seen == [str(folder), ""]
    assert load_config(path) == CONFIG
    assert path.read_text().startswith("# The Moorage agent's config")
    assert [p.name for p in folder.iterdir()] == ["agent.toml"]


def test_a_failed_lock_down_leaves_no_file_and_no_credential(tmp_path):
    path = tmp_path / "agent.toml"
    with pytest.raises(OSError):
        save_config(path, CONFIG, Platform("win32", run=Recorder(returncode=1)))
    assert list(tmp_path.iterdir()) == []


def test_a_planted_file_is_replaced_not_reused(tmp_path):
    path = tmp_path / "agent.json"
    path.write_text("planted")
    path.chmod(0o666)
    old_inode = path.stat().st_ino
    save_config(path, CONFIG, Platform("linux"))
    assert path.stat().st_ino != old_inode
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == CONFIG


def test_posix_config_is_json_mode_0600_in_a_new_folder_0700(tmp_path):
    path = tmp_path / "etc" / "moorage-agent.json"
    save_config(path, CONFIG, Platform("linux"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_config(path) == CONFIG


def test_a_missing_config_says_to_enrol(tmp_path):
    with pytest.raises(SystemExit, match="enroll"):
        load_config(tmp_path / "agent.toml")
