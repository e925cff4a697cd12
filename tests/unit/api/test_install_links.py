"""One-time install links: the Linux and the PowerShell command, the PowerShell script
served with the hub URL and a token filled in (quoted), single use whatever the
shell, and an enrolment token good for the link's ``hosts`` machines (multi-host push)."""

from __future__ import annotations

import re

import httpx

from moorage.api.v1.install import PS_PRESET, ps_quote
from tests.unit.conftest import BASE_URL, App


def _anonymous(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL)


async def _enroll(client: httpx.AsyncClient, token: str, hostname: str) -> httpx.Response:
    return await client.post("/api/v1/agents/enroll", json={"token": token, "hostname": hostname})


async def test_link_answers_a_linux_and_a_powershell_command(app: App):
    link = (await app.client.post("/api/v1/install-links", json={"ttl_seconds": 600})).json()
    assert link["command"] == f"curl -fsSL {link['url']} | sudo sh"
    assert link["powershell_url"] == f"{link['url']}?shell=powershell"
    assert link["powershell_command"] == (
        "powershell -NoProfile -ExecutionPolicy Bypass -Command "
        f"\"& ([scriptblock]::Create((irm '{link['powershell_url']}')))\""
    )
    assert link["hosts"] == 1


async def test_powershell_script_is_served_once_with_server_and_token(app: App):
    link = (await app.client.post("/api/v1/install-links", json={"ttl_seconds": 600})).json()
    async with _anonymous(app) as client:
        path = link["powershell_url"].removeprefix(BASE_URL)
        script = await client.get(path)
        assert script.status_code == 200
        text = script.text
        assert PS_PRESET not in text
        assert f"if (-not $Server) {{ $Server = '{BASE_URL}' }}" in text
        token = re.search(r"\$Token = '(mrg_[^']+)'", text).group(1)
        assert "Register-ScheduledTask" in text and "icacls" in text
        # Single use, whichever shell asks next.
        assert (await client.get(path)).status_code == 410
        assert (await client.get(link["url"].removeprefix(BASE_URL))).status_code == 410
        assert (await _enroll(client, token, "win-1")).status_code == 201
        used = await _enroll(client, token, "win-2")
        assert used.status_code == 401 and "used 1 of 1" in used.text


async def test_a_link_for_three_hosts_enrols_three_machines_and_no_fourth(app: App):
    link = (
        await app.client.post("/api/v1/install-links", json={"ttl_seconds": 600, "hosts": 3})
    ).json()
    assert link["hosts"] == 3 and "-Targets HOST1,HOST2" in link["powershell_command"]
    async with _anonymous(app) as client:
        text = (await client.get(link["powershell_url"].removeprefix(BASE_URL))).text
        token = re.search(r"\$Token = '(mrg_[^']+)'", text).group(1)
        for n in range(3):
            assert (await _enroll(client, token, f"poste-{n}")).status_code == 201
        fourth = await _enroll(client, token, "poste-4")
        assert fourth.status_code == 401 and "used 3 of 3" in fourth.text


async def test_hosts_and_shell_are_checked(app: App):
    for hosts in (0, 1001):
        bad = await app.client.post("/api/v1/install-links", json={"hosts": hosts})
        assert bad.status_code == 422 and "hosts" in bad.text
    link = (await app.client.post("/api/v1/install-links", json={})).json()
    async with _anonymous(app) as client:
        other = await client.get(link["url"].removeprefix(BASE_URL), params={"shell": "cmd"})
        assert other.status_code == 422
        # A refused shell does not spend the link.
        assert (await client.get(link["url"].removeprefix(BASE_URL))).status_code == 200


def test_powershell_quoting_doubles_every_single_quote():
    assert ps_quote("http://h/a'b") == "'http://h/a''b'"
    assert ps_quote("x\u2019y") == "'x\u2019\u2019y'"
    assert ps_quote("$(calc)") == "'$(calc)'"  # single quotes: no expansion
