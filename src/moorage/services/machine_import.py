"""Parse the Projet-IAC ``machines.txt`` format.

One machine a line: ``name host port user password`` separated by whitespace;
``#`` starts a comment (whole line or trailing); blank lines are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import InvalidInput
from moorage.models.machine import Machine
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in, record
from moorage.services.machines import MachineSpec, check_machine_spec, register

__all__ = ["ImportLineError", "import_machines", "parse_machines_txt"]


@dataclass(frozen=True)
class ImportLineError:
    """A line that cannot be imported: 1-based ``line`` number and the reason."""

    line: int
    message: str


def parse_machines_txt(
    text: str, *, pool: str = "default"
) -> tuple[list[tuple[int, MachineSpec]], list[ImportLineError]]:
    """Split a ``machines.txt`` into valid ``(line number, spec)`` pairs and errors.

    Duplicate names inside the file are errors on their second occurrence.
    The caller decides whether errors abort the import.
    """
    specs: list[tuple[int, MachineSpec]] = []
    errors: list[ImportLineError] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 5:
            errors.append(
                ImportLineError(
                    number, f"expected 5 fields (name host port user password), found {len(fields)}"
                )
            )
            continue
        name, host, port_text, user, password = fields
        if not port_text.isdigit():
            errors.append(ImportLineError(number, f"port {port_text!r} is not a number"))
            continue
        try:
            spec = check_machine_spec(
                MachineSpec(
                    name=name,
                    host=host,
                    port=int(port_text),
                    user=user,
                    password=password,
                    private_key=None,
                    pool=pool,
                    tags=[],
                )
            )
        except InvalidInput as exc:
            errors.append(ImportLineError(number, exc.message))
            continue
        if name in seen:
            errors.append(ImportLineError(number, f"{name!r} is already on line {seen[name]}"))
            continue
        seen[name] = number
        specs.append((number, spec))
    return specs, errors


async def import_machines(
    db: AsyncSession,
    keyring: Keyring,
    org_id: str,
    text: str,
    *,
    pool: str = "default",
    skip_invalid: bool = False,
    by: User | None = None,
    actor: str | None = None,
) -> tuple[list[str], list[ImportLineError]]:
    """Register the machines of a ``machines.txt`` in org ``org_id`` (not committed).

    A name already registered is a bad line too. Returns the imported names and
    the lines left out. ``by`` is the operator acting (role checked, and
    ``machine.import`` written to the audit log in the same transaction); None
    for the host's command line, which has no user and is recorded as ``actor``
    (:data:`~moorage.services.audit.COMMAND_LINE`) when given.

    Raises:
        Forbidden: ``by`` is below operator.
        InvalidInput: some line is bad and ``skip_invalid`` is false; nothing is
            imported, and the error's ``lines`` detail lists ``{line, message}``.
    """
    if by is not None:
        require_role(by, Role.OPERATOR)
    specs, errors = parse_machines_txt(text, pool=pool)
    taken = set(
        await db.scalars(
            select(Machine.name).where(Machine.name.in_([spec.name for _, spec in specs]))
        )
    )
    for number, spec in specs:
        if spec.name in taken:
            errors.append(ImportLineError(number, f"a machine named {spec.name!r} is registered"))
    errors.sort(key=lambda error: error.line)
    if errors and not skip_invalid:
        listing = "; ".join(f"line {e.line}: {e.message}" for e in errors)
        raise InvalidInput(
            f"{len(errors)} bad lines, nothing imported: {listing}",
            field="body",
            lines=[{"line": e.line, "message": e.message} for e in errors],
        )
    bad = {error.line for error in errors}
    imported = []
    for number, spec in specs:
        if number not in bad:
            await register(db, keyring, org_id, spec)
            imported.append(spec.name)
    names = ",".join(imported)[:255] or "-"
    if by is not None:
        audit_in(db, by, "machine.import", "machine", names)
    elif actor is not None:
        record(db, org_id, actor, "machine.import", "machine", names)
    return imported, errors
