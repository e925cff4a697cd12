"""Guacamole tunnel: guacamole-common-js ↔ websocket ↔ ``guacd`` for rdp workspaces.

Used when an operator sets ``MOORAGE_GUACD_ADDRESS`` (``host:port`` of a
guacd). Moorage plays the part of Guacamole's web application:

1. it opens a connection to guacd and performs the protocol handshake
   (``select`` → ``args`` → ``size``/``audio``/``video``/``image``/``timezone``
   → ``connect`` → ``ready``), giving guacd the session's RDP address and
   account, so the password never reaches the browser;
2. it accepts the browser's websocket (subprotocol ``guacamole``), sends the
   tunnel's UUID as the internal instruction ``0.,36.<uuid>;`` that
   ``Guacamole.WebSocketTunnel`` waits for, then relays instructions both
   ways, whole instructions per frame, answering the client's internal
   ``ping`` itself.

Protocol reference: the Guacamole protocol (guacamole.apache.org, "The
Guacamole protocol": instructions are ``LENGTH.VALUE`` elements separated by
``,`` and ended by ``;``, lengths in Unicode characters).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from moorage.errors import Conflict, MoorageError, NotFound, RuntimeUnavailable, Unauthenticated
from moorage.gateway.deadline import refuse_if_past, reloader, serve_until_deadline
from moorage.gateway.presence import present
from moorage.gateway.reach import published
from moorage.models.lease import LeaseState
from moorage.models.template import TemplateKind
from moorage.security.auth import credential_of, user_from_connection
from moorage.security.origin import cross_site
from moorage.services.share_access import Admission

if TYPE_CHECKING:
    from moorage.context import Context

__all__ = ["InstructionReader", "encode", "handshake", "parse", "relay", "serve_guacamole"]

log = logging.getLogger(__name__)

INTERNAL_OPCODE = ""


def encode(*elements: str) -> str:
    """One instruction: ``encode("size", "1024", "768")`` → ``4.size,4.1024,3.768;``."""
    return ",".join(f"{len(element)}.{element}" for element in elements) + ";"


def parse(text: str) -> tuple[list[list[str]], str]:
    """Split ``text`` into complete instructions and the incomplete rest.

    Returns:
        ``(instructions, rest)``: each instruction is its elements, opcode first.

    Raises:
        ValueError: malformed text (a length that is not a number, a bad separator).
    """
    instructions: list[list[str]] = []
    elements: list[str] = []
    position = 0
    start = 0
    while True:
        dot = text.find(".", position)
        if dot == -1:
            return instructions, text[start:]
        length_text = text[position:dot]
        if not length_text.isdigit():
            raise ValueError(f"bad element length {length_text!r}")
        end = dot + 1 + int(length_text)
        if end >= len(text):
            return instructions, text[start:]
        elements.append(text[dot + 1 : end])
        separator = text[end]
        position = end + 1
        if separator == ";":
            instructions.append(elements)
            elements = []
            start = position
        elif separator != ",":
            raise ValueError(f"bad separator {separator!r}")


class InstructionReader:
    """Reads whole instructions from a guacd stream (UTF-8). Instructions that
    arrive together with the one a handshake step expects are kept for the relay."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._parsed: list[list[str]] = []

    async def _fill(self) -> None:
        while not self._parsed:
            instructions, rest = parse(self._pending)
            if instructions:
                self._parsed, self._pending = instructions, rest
                return
            data = await self._reader.read(65536)
            if not data:
                raise ConnectionError("guacd closed the connection")
            self._pending += self._decoder.decode(data)

    async def read_batch(self) -> tuple[list[list[str]], str]:
        """Every complete instruction available (at least one): ``(parsed, text)``.

        Raises:
            ConnectionError: guacd closed the connection.
        """
        await self._fill()
        batch, self._parsed = self._parsed, []
        return batch, "".join(encode(*elements) for elements in batch)

    async def expect(self, opcode: str) -> list[str]:
        """The next instruction, which must be ``opcode`` (an ``error`` is reported)."""
        await self._fill()
        first = self._parsed.pop(0)
        if first[0] == "error":
            raise RuntimeUnavailable(f"guacd refused the connection: {first[1:]}")
        if first[0] != opcode:
            raise RuntimeUnavailable(f"guacd sent {first[0]!r} where {opcode!r} was expected")
        return first[1:]


async def handshake(
    reader: InstructionReader,
    writer: asyncio.StreamWriter,
    protocol: str,
    parameters: Mapping[str, str],
    *,
    width: int,
    height: int,
    dpi: int,
    timezone: str | None = None,
) -> str:
    """Ask guacd for a ``protocol`` connection with ``parameters`` (names as guacd's
    ``args`` lists them; missing ones are sent empty). Returns the connection id.

    Raises:
        RuntimeUnavailable: guacd refused or answered out of protocol.
    """
    writer.write(encode("select", protocol).encode())
    await writer.drain()
    names = await reader.expect("args")
    writer.write(
        (
            encode("size", str(width), str(height), str(dpi))
            + encode("audio")
            + encode("video")
            + encode("image", "image/png", "image/jpeg")
        ).encode()
    )
    if timezone:
        writer.write(encode("timezone", timezone).encode())
    values = [name if name.startswith("VERSION_") else parameters.get(name, "") for name in names]
    writer.write(encode("connect", *values).encode())
    await writer.drain()
    (connection_id, *_) = await reader.expect("ready")
    return connection_id


async def relay(
    websocket: WebSocket,
    reader: InstructionReader,
    writer: asyncio.StreamWriter,
    first: Sequence[str] = (),
) -> None:
    """Run the tunnel: the UUID first, then instructions both ways until either ends."""
    await websocket.send_text(encode(INTERNAL_OPCODE, str(uuid.uuid4())))
    for text in first:
        await websocket.send_text(text)

    async def down() -> None:
        while True:
            _, raw = await reader.read_batch()
            await websocket.send_text(raw)

    async def up() -> None:
        pending = ""
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            pending += message.get("text") or (message.get("bytes") or b"").decode()
            instructions, rest = parse(pending)
            forward = []
            for elements in instructions:
                if elements[0] == INTERNAL_OPCODE:
                    if len(elements) >= 2 and elements[1] == "ping":
                        await websocket.send_text(encode(*elements))  # keep-alive echo
                    continue
                forward.append(encode(*elements))
            pending = rest
            if forward:
                writer.write("".join(forward).encode())
                await writer.drain()

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def serve_guacamole(websocket: WebSocket, context: Context, session_id: str) -> None:
    """Authenticate the browser, hand the session's RDP desktop to guacd, then relay.

    Query parameters: ``width``, ``height`` (pixels) and ``dpi`` of the display.
    Close codes as for the terminal (4401, 4403, 4404, 4409, 1011).
    """
    if cross_site(websocket) and credential_of(websocket):
        await websocket.accept(subprotocol="guacamole")
        await websocket.close(code=4403, reason="cross-site websocket refused")
        return
    opened: asyncio.StreamWriter | None = None
    try:
        address = context.settings.guacd_address
        if not address:
            raise NotFound("no guacd is configured (MOORAGE_GUACD_ADDRESS)", code="no_guacd")
        user = await user_from_connection(websocket, context)
        session = await context.sessions.get(user, session_id)
        if session.template.kind != TemplateKind.RDP.value or not session.ports:
            raise NotFound(f"session {session_id} has no RDP desktop", code="session_not_found")
        if session.state != LeaseState.READY.value:
            raise Conflict(f"the session is {session.state}", code="session_not_ready")
        refuse_if_past(session)
        width, height, dpi = (
            _bounded(websocket, name, default, top)
            for name, default, top in (
                ("width", 1280, 8192),
                ("height", 800, 8192),
                ("dpi", 96, 600),
            )
        )
        rdp_host, rdp_port = await published(context, session, 3389)
        if context.settings.guacd_rdp_host and rdp_host == context.settings.publish_address:
            # An engine on this machine, and guacd reaches its ports at another address
            # (guacd in a container). A port forwarded from another host is on this
            # machine's loopback: guacd must share its network to reach it.
            rdp_host = context.settings.guacd_rdp_host
        host, _, port = address.rpartition(":")
        try:
            stream_reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port)), 10
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise RuntimeUnavailable(f"guacd at {address} does not answer: {exc}") from exc
        opened = writer
        reader = InstructionReader(stream_reader)
        await asyncio.wait_for(
            handshake(
                reader,
                writer,
                "rdp",
                {
                    "hostname": rdp_host,
                    "port": str(rdp_port),
                    "username": session.account or "",
                    "password": context.sessions.secret_of(session) or "",
                    "ignore-cert": "true",
                    "security": "any",
                    "resize-method": "display-update",
                },
                width=width,
                height=height,
                dpi=dpi,
            ),
            20,
        )
    except (MoorageError, TimeoutError, ConnectionError) as exc:
        if opened is not None:
            opened.close()
        message = exc.message if isinstance(exc, MoorageError) else f"guacd: {exc!r}"
        codes: dict[type[Exception], int] = {Unauthenticated: 4401, NotFound: 4404, Conflict: 4409}
        code = codes.get(type(exc), 1011)
        await websocket.accept(subprotocol="guacamole")
        await websocket.close(code=code, reason=message[:120])
        return
    await websocket.accept(subprotocol="guacamole")
    # Listed as connected and audited like the other desktops (RDP is not shareable).
    role = "owner" if session.user_id == user.id else "admin"
    try:
        async with present(
            websocket, context, Admission(session, role, user.username, user), "desktop"
        ):
            await serve_until_deadline(
                websocket,
                "rdp",
                session,
                reloader(context.sessions, session_id),
                relay(websocket, reader, writer),
            )
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await websocket.close()


def _bounded(websocket: WebSocket, name: str, default: int, top: int) -> int:
    try:
        return max(1, min(int(websocket.query_params.get(name, default)), top))
    except ValueError:
        return default
