"""Each workspace kind: what it publishes, the environment it needs, when it is ready."""

import asyncio

import pytest

from moorage.errors import InvalidInput, RuntimeUnavailable
from moorage.models.template import Template, TemplateKind
from moorage.services.kinds import KINDS, kind_for
from moorage.services.kinds.rdp import wait_for_rdp
from moorage.services.kinds.ssh import wait_for_banner


def template(kind: TemplateKind, **fields) -> Template:
    return Template(name="t", kind=kind.value, shell_user="user", **fields)


def test_every_template_kind_has_a_module():
    assert set(KINDS) == {kind.value for kind in TemplateKind}
    for name, kind in KINDS.items():
        assert kind_for(name) is kind and kind.name == name


def test_an_unknown_kind_is_422_on_the_template_field():
    with pytest.raises(InvalidInput) as caught:
        kind_for("teleport")
    assert caught.value.message == "templates of kind 'teleport' cannot be launched yet"
    assert caught.value.details["field"] == "template"


@pytest.mark.parametrize(
    ("kind", "fields", "ports"),
    [
        (TemplateKind.TERMINAL, {}, ()),
        (TemplateKind.SSH, {}, (22,)),
        (TemplateKind.VNC, {}, (5901,)),
        (TemplateKind.RDP, {}, (3389,)),
        (TemplateKind.HTTP, {}, (8888,)),
        (TemplateKind.HTTP, {"port": 3000}, (3000,)),
    ],
)
def test_published_ports(kind, fields, ports):
    assert kind_for(kind.value).ports(template(kind, **fields)) == ports


def test_account_kinds_pass_the_user_and_keep_the_password_out_of_the_environment():
    for kind, prefix in ((TemplateKind.SSH, "SSH"), (TemplateKind.RDP, "RDP")):
        setup = kind_for(kind.value).environment(template(kind), "s1", "pw-123")
        assert setup.env == {f"{prefix}_USER": "user"}  # the password goes as a file
        assert setup.secret == "pw-123" and setup.account == "user"
        assert "SETUID" in kind_for(kind.value).cap_add


def test_vnc_keeps_its_password_without_an_account():
    setup = kind_for("vnc").environment(template(TemplateKind.VNC), "s1", "pw-123")
    assert setup.env == {}  # the password goes as a file, never in the environment
    assert setup.secret == "pw-123" and setup.account is None
    assert kind_for("vnc").paths("s1").desktop == "/api/v1/sessions/s1/vnc"


def test_http_serves_under_the_session_path_and_terminal_needs_nothing():
    setup = kind_for("http").environment(template(TemplateKind.HTTP), "s1", "pw")
    assert setup.env == {"MOORAGE_BASE_URL": "/s/s1/"}
    assert setup.secret is not None and len(setup.secret) >= 40  # the app's token
    other = kind_for("http").environment(template(TemplateKind.HTTP), "s2", "pw")
    assert other.secret != setup.secret
    assert kind_for("http").paths("s1").app == "/s/s1/"
    terminal = kind_for("terminal").environment(template(TemplateKind.TERMINAL), "s1", "pw")
    assert terminal.env == {} and terminal.secret is None and terminal.account is None


def test_native_clients_of_ssh_and_rdp():
    assert kind_for("ssh").native_port == 22
    assert kind_for("ssh").client_command("h", 2222, "user") == "ssh -p 2222 user@h"
    assert kind_for("rdp").native_port == 3389
    assert kind_for("rdp").client_command("h", 3390, "user") == "xfreerdp /v:h:3390 /u:user"
    assert (
        kind_for("vnc").native_port is None and kind_for("vnc").client_command("h", 1, "u") is None
    )


async def _serve(answer: bytes):
    async def handle(reader, writer):
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_ssh_is_ready_on_its_banner_and_not_on_another_greeting():
    server, port = await _serve(b"SSH-2.0-OpenSSH_9.6\r\n")
    async with server:
        await wait_for_banner("127.0.0.1", port, b"SSH-2.0", 2)
    server, port = await _serve(b"HTTP/1.1 400 Bad Request\r\n")
    async with server:
        with pytest.raises(RuntimeUnavailable, match="unexpected greeting"):
            await wait_for_banner("127.0.0.1", port, b"SSH-2.0", 0.3)


async def test_rdp_is_ready_on_a_tpkt_answer_only():
    server, port = await _serve(bytes.fromhex("0300000b06d00000123400"))
    async with server:
        await wait_for_rdp("127.0.0.1", port, 2)
    server, port = await _serve(b"SSH-2.0-x\r\n")
    async with server:
        with pytest.raises(RuntimeUnavailable, match="unexpected answer"):
            await wait_for_rdp("127.0.0.1", port, 0.1)
