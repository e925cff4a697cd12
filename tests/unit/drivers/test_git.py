"""The Git driver against bare repositories on the local filesystem (Debian's git)."""

from __future__ import annotations

import os

import pytest

from moorage.drivers.git import GitRepository, check_path, check_ref, check_url
from moorage.errors import InvalidInput, RuntimeUnavailable
from tests.git_repos import BareRepo


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.org/team/app.git",
        "ssh://git@git.example.org:2222/team/app.git",
        "git@git.example.org:team/app.git",
    ],
)
def test_urls_git_may_fetch(url):
    assert check_url(url, allow_file=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "ext::sh",
        "--upload-pack=touch /tmp/x",
        "file:///etc",
        "/srv/repo.git",
        "fd::3",
        "git@host:-oProxyCommand=x",
        "git@-oProxyCommand=x:repo",
    ],
)
def test_urls_refused(url):
    with pytest.raises(InvalidInput) as refused:
        check_url(url, allow_file=False)
    assert refused.value.details["field"] == "git.url"


@pytest.mark.parametrize(
    "url",
    [
        "https://deployer:token@git.example.org/team/app.git",
        "https://deployer@git.example.org/team/app.git",
        "http://u:secret@127.0.0.1:8080/repo.git",
        "ssh://git:secret@git.example.org/team/app.git",
    ],
)
def test_logins_in_the_url_are_refused(url):
    """A login in the URL would be stored, shown and put on git's command line."""
    with pytest.raises(InvalidInput, match="credential") as refused:
        check_url(url, allow_file=False)
    assert refused.value.details["field"] == "git.url"


def test_passwords_go_over_plain_http_to_this_machine_only():
    remote = "http://git.example.org/team/app.git"
    assert check_url(remote, allow_file=False) == remote  # anonymous: nothing to leak
    with pytest.raises(InvalidInput, match="https") as refused:
        check_url(remote, allow_file=False, with_password=True)
    assert refused.value.details["field"] == "git.url"
    for local in ("http://127.0.0.1:8080/repo.git", "http://[::1]:8080/r.git"):
        assert check_url(local, allow_file=False, with_password=True) == local
    secure = "https://git.example.org/team/app.git"
    assert check_url(secure, allow_file=False, with_password=True) == secure


def test_file_urls_only_when_allowed():
    assert check_url("file:///srv/repo.git", allow_file=True)


def test_refs_and_paths():
    assert check_ref("main") == "main" and check_ref("refs/tags/v1.2") == "refs/tags/v1.2"
    for bad in ("-x", "a..b", "a b", "x.lock", "a/", ""):
        with pytest.raises(InvalidInput):
            check_ref(bad)
    assert check_path("./deploy/compose.yaml") == "deploy/compose.yaml"
    for bad in ("../compose.yaml", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(InvalidInput):
            check_path(bad)


async def test_fetch_read_export(tmp_path):
    origin = BareRepo(tmp_path / "origin")
    first = origin.push({"deploy/compose.yaml": "services: {}\n", "deploy/app.conf": "x\n"}, "1")
    repo = GitRepository(tmp_path / "stack")
    commit, known_hosts = await repo.fetch(origin.url, "main", None, None, allow_file=True)
    assert commit == first and known_hosts is None
    assert await repo.read(commit, "deploy/compose.yaml") == "services: {}\n"
    assert await repo.read(commit, "missing.yaml") is None
    await repo.export(commit, "deploy", tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["app.conf", "compose.yaml"]

    second = origin.push({"deploy/compose.yaml": "services: {a: {image: x}}\n"}, "2")
    assert (await repo.fetch(origin.url, "main", None, None, allow_file=True))[0] == second
    # The previous commit stays readable (a rollback exports it again).
    await repo.keep("deployed", first)
    assert await repo.read(first, "deploy/compose.yaml") == "services: {}\n"

    with pytest.raises(RuntimeUnavailable, match="no-such-branch"):
        await repo.fetch(origin.url, "no-such-branch", None, None, allow_file=True)
    # file:// is a protocol git itself refuses unless allowed (GIT_ALLOW_PROTOCOL).
    with pytest.raises(RuntimeUnavailable):
        await repo.fetch(origin.url, "main", None, None, allow_file=False)


async def test_export_refuses_a_link_out_of_the_folder(tmp_path):
    origin = BareRepo(tmp_path / "origin")
    (origin.work).mkdir(exist_ok=True)
    os.symlink("../../../../etc/passwd", origin.work / "passwd")
    commit = origin.push({"compose.yaml": "services: {}\n"}, "link")
    repo = GitRepository(tmp_path / "stack")
    await repo.fetch(origin.url, "main", None, None, allow_file=True)
    with pytest.raises(InvalidInput):
        await repo.export(commit, "", tmp_path / "out")
    assert not (tmp_path / "out").exists()
