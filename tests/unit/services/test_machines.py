"""Machine changes check the operator role in the service, whoever calls it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moorage.db.engine import write_session
from moorage.errors import Forbidden
from moorage.models.audit import AuditEvent
from moorage.models.machine import Machine
from moorage.models.user import Role
from moorage.schemas.machine import MachineUpdate
from moorage.services import machines
from moorage.services.machine_import import import_machines
from moorage.services.users import create_user, find_user


def spec(name: str) -> machines.MachineSpec:
    return machines.MachineSpec(
        name=name,
        host="127.0.0.1",
        port=22,
        user="root",
        password="pw-123",
        private_key=None,
        pool="default",
        tags=[],
    )


async def test_only_operators_change_machines_and_each_change_is_audited(app):
    keyring = app.context.keyring
    async with write_session(app.context.sessionmaker) as db:
        admin = await find_user(db, "admin")
        member = await create_user(
            db, org_id=admin.org_id, username="mo", password="mo-password", role=Role.MEMBER
        )
        await machines.add_machine(db, keyring, admin, spec("m1"))
        for change in (
            machines.add_machine(db, keyring, member, spec("m2")),
            machines.update_machine(db, keyring, member, "m1", MachineUpdate(port=2222)),
            machines.toggle_maintenance(db, member, "m1"),
            machines.delete_machine(db, member, "m1"),
            machines.machines_of(db, member),
            import_machines(db, keyring, admin.org_id, "m3 127.0.0.3 22 root pw", by=member),
        ):
            with pytest.raises(Forbidden):
                await change
    async with app.context.sessionmaker() as db:
        assert list(await db.scalars(select(Machine.name))) == ["m1"]
        changes = select(AuditEvent.action).where(AuditEvent.action.startswith("machine."))
        assert list(await db.scalars(changes)) == ["machine.add"]
