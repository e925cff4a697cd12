"""Host reach is refused for containers and stacks unless an admin allows it on the
environment, and a Compose file never references files outside its stack folder."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from moorage.drivers.docker.compose import StackFiles
from moorage.errors import InvalidInput
from moorage.services.docker.host_access import (
    check_bind_strings,
    compose_file_references,
    compose_host_reach,
)
from moorage.services.docker.stacks import check_stack_folder

ROOT = "/data/stacks/local/web"


def keys(violations) -> list[str]:
    return [key for key, _ in violations]


def test_host_path_binds_are_refused_and_named_volumes_kept():
    binds = ["data:/data", "/var/run/docker.sock:/var/run/docker.sock", "./x:/x", "~/y:/y"]
    assert keys(check_bind_strings(binds)) == ["volumes[1]", "volumes[2]", "volumes[3]"]


def test_every_kind_of_host_reach_in_a_resolved_stack_is_named():
    resolved = {
        "services": {
            "web": {
                "privileged": True,
                "network_mode": "host",
                "pid": "host",
                "ipc": "host",
                "cap_add": ["CHOWN", "NET_ADMIN"],
                "devices": [{"source": "/dev/kvm"}],
                "security_opt": ["seccomp=unconfined"],
                "volumes": [
                    {"type": "bind", "source": "/var/run/docker.sock"},
                    {"type": "bind", "source": f"{ROOT}/conf"},
                    {"type": "bind", "source": "/data/stacks/local/other"},
                    {"type": "volume", "source": "data"},
                ],
            },
            "quiet": {"image": "nginx", "cap_add": ["NET_BIND_SERVICE"]},
        },
        "volumes": {"data": {"driver_opts": {"type": "none", "o": "bind", "device": "/etc"}}},
    }
    assert keys(compose_host_reach(resolved, ROOT)) == [
        "services.web.privileged",
        "services.web.network_mode",
        "services.web.pid",
        "services.web.ipc",
        "services.web.cap_add",
        "services.web.devices",
        "services.web.security_opt",
        "services.web.volumes[0]",
        "services.web.volumes[2]",
        "volumes.data.driver_opts",
    ]


def test_file_references_outside_the_folder_are_named():
    raw = {
        "include": ["../other/compose.yaml"],
        "services": {
            "web": {
                "env_file": ["./ok.env", "../secret.env"],
                "build": {"context": ".", "dockerfile": "../Dockerfile"},
                "extends": {"file": "/etc/base.yaml", "service": "b"},
                "label_file": "${HOME}/labels",
            },
            "ok": {"build": "./app", "env_file": [{"path": "app.env"}]},
            "up": {"build": "../"},
        },
        "configs": {"c": {"file": "../../cfg"}},
        "secrets": {"s": {"file": "./secret.txt"}},
    }
    assert keys(compose_file_references(raw, ROOT)) == [
        "include",
        "services.web.env_file",
        "services.web.label_file",
        "services.web.build.dockerfile",
        "services.web.extends.file",
        "services.up.build",
        "configs.c.file",
    ]


def environment(allow: bool) -> SimpleNamespace:
    return SimpleNamespace(
        name="t",
        url="unix:///nonexistent.sock",
        tls_ca_sealed=None,
        tls_cert_sealed=None,
        allow_host_access=allow,
    )


def folder(tmp_path: Path, compose: str) -> StackFiles:
    root = tmp_path / "stacks" / "t" / "web"
    root.mkdir(parents=True)
    (root / "compose.yaml").write_text(compose)
    return StackFiles(root)


PRIVILEGED = "services:\n  web:\n    image: nginx\n    privileged: true\n"
PARENT_BIND = "services:\n  web:\n    image: nginx\n    volumes: ['../:/host']\n"


@pytest.mark.parametrize(
    ("compose", "key"),
    [(PRIVILEGED, "services.web.privileged"), (PARENT_BIND, "services.web.volumes[0]")],
)
async def test_compose_itself_resolves_the_stack_before_the_check(tmp_path, compose, key):
    with pytest.raises(InvalidInput) as refused:
        await check_stack_folder(environment(False), folder(tmp_path, compose), "web")  # type: ignore[arg-type]
    assert refused.value.details["field"] == key


async def test_an_environment_that_allows_host_access_takes_the_stack(tmp_path):
    files = folder(tmp_path, PRIVILEGED)
    await check_stack_folder(environment(True), files, "web")  # type: ignore[arg-type]


async def test_files_outside_the_folder_are_refused_even_with_host_access(tmp_path):
    files = folder(tmp_path, "services:\n  web:\n    image: nginx\n    env_file: ../../x.env\n")
    with pytest.raises(InvalidInput) as refused:
        await check_stack_folder(environment(True), files, "web")  # type: ignore[arg-type]
    assert refused.value.details["field"] == "services.web.env_file"


async def test_a_host_bind_container_is_422_until_an_admin_allows_host_access(app):
    operator = await operator_client(app)
    body = {"image": "nginx", "volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}
    for client in (app.client, operator):
        refused = await client.post("/api/v1/environments/local/containers", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "volumes[0]"
    flip = {"allow_host_access": True}
    assert (await operator.patch("/api/v1/environments/local", json=flip)).status_code == 403
    allowed = await app.client.patch("/api/v1/environments/local", json=flip)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["allow_host_access"] is True
    passed = await operator.post("/api/v1/environments/local/containers", json=body)
    assert passed.status_code != 422, passed.text  # past the check (the fake is no engine)
    await operator.aclose()


async def operator_client(app):
    user = {"username": "olga", "password": "olga-password", "role": "operator"}
    assert (await app.client.post("/api/v1/users", json=user)).status_code == 201
    return await app.login("olga", "olga-password")
