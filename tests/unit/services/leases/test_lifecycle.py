"""The shared lease lifecycle, through a third lease kind written only from its hooks.

``Hold`` reuses the sessions table as its row (a lease kind needs only a model
with the lease columns) and records what it is asked to reclaim.
"""

from datetime import timedelta

import pytest
from sqlalchemy import select

from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.environment import Environment
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import Role, User
from moorage.services.leases import LeaseService, Visibility


class Hold(LeaseService[WorkspaceSession]):
    model = WorkspaceSession
    noun = "hold"
    visibility = Visibility(sees_all=Role.INSTRUCTOR)
    ended_message = "the hold ended while it was being made"

    def __init__(self, sessionmaker, **kwargs):
        super().__init__(sessionmaker, **kwargs)
        self.reclaimed: list[str] = []
        self.reclaim_ok = True

    def limit_minutes(self, lease):
        return 60

    async def _reclaim(self, lease_id):
        self.reclaimed.append(lease_id)
        return self.reclaim_ok

    async def provision(self, user, duration=timedelta(minutes=30)) -> str:
        async with write_session(self._sessionmaker) as db:
            template = await db.scalar(select(Template))
            environment = await db.scalar(select(Environment))
            row = WorkspaceSession(
                **self._new_lease_columns(user, duration),
                template_id=template.id,
                environment_id=environment.id,
            )
            db.add(row)
        return row.id


@pytest.fixture
async def hold(app):
    service = Hold(app.context.sessionmaker, instance_id="test-instance")
    service.deadlines = []
    service.add_deadline_listener(lambda lease_id, at: service.deadlines.append((lease_id, at)))
    async with app.context.sessionmaker() as db:
        service.admin = await db.scalar(select(User).where(User.username == "admin"))
    return service


async def test_a_new_kind_gets_ready_extend_release_from_the_base(hold):
    lease_id = await hold.provision(hold.admin)
    ready = await hold._mark_ready(lease_id, timedelta(minutes=30))
    assert ready.state == "ready" and ready.instance_id is None
    assert hold.deadlines == [(lease_id, ready.expires_at)]

    extended = await hold.extend(hold.admin, lease_id, 20)
    assert extended.expires_at - ready.expires_at == timedelta(minutes=20)
    with pytest.raises(InvalidInput, match="at most 10 more minutes"):
        await hold.extend(hold.admin, lease_id, 11)

    released = await hold.release(hold.admin, lease_id)
    assert released.state == "released" and released.released_at is not None
    assert hold.reclaimed == [lease_id]
    assert hold.deadlines[-1] == (lease_id, None)
    assert (await hold.release(hold.admin, lease_id)).state == "released"
    assert hold.reclaimed == [lease_id], "an ended lease is not reclaimed again"


async def test_not_found_names_the_kind(hold):
    with pytest.raises(NotFound) as caught:
        await hold.get(hold.admin, "nope")
    assert caught.value.code == "hold_not_found" and caught.value.message == "no hold nope"


async def test_a_refused_reclaim_leaves_the_lease_releasing_until_a_retry(hold):
    lease_id = await hold.provision(hold.admin)
    await hold._mark_ready(lease_id, timedelta(minutes=30))
    hold.reclaim_ok = False
    assert await hold.release_by_id(lease_id, reason="deadline") is False
    assert (await hold._reload(lease_id)).state == "releasing"
    hold.reclaim_ok = True
    assert await hold.release_by_id(lease_id) is True
    row = await hold._reload(lease_id)
    assert row.state == "released" and row.error == "deadline"


async def test_a_release_during_provisioning_is_finished_when_it_would_become_ready(hold):
    lease_id = await hold.provision(hold.admin)
    assert await hold.release_by_id(lease_id) is True
    assert hold.reclaimed == [], "the provisioning coroutine reclaims what it made"
    with pytest.raises(Conflict) as caught:
        await hold._mark_ready(lease_id, timedelta(minutes=30))
    assert caught.value.code == "hold_ended"
    assert hold.reclaimed == [lease_id]
    assert (await hold._reload(lease_id)).state == "released"


async def test_fail_reclaims_once_and_leaves_ended_leases_alone(hold):
    lease_id = await hold.provision(hold.admin)
    await hold.fail(lease_id, "the runtime vanished")
    row = await hold._reload(lease_id)
    assert row.state == "failed" and row.error == "the runtime vanished"
    await hold.fail(lease_id, "again")
    assert hold.reclaimed == [lease_id]
    assert (await hold._reload(lease_id)).error == "the runtime vanished"


async def test_the_kinds_visibility_decides_who_lists_everyones(hold, app, member):
    mine = await hold.provision(hold.admin)
    async with app.context.sessionmaker() as db:
        alice = await db.scalar(select(User).where(User.username == "alice"))
    assert [lease.id for lease in await hold.list(hold.admin, all_users=True)] == [mine]
    assert await hold.list(alice) == []
    with pytest.raises(NotFound):
        await hold.get(alice, mine)
    hold.visibility = Visibility(sees_all=Role.MEMBER)
    assert (await hold.get(alice, mine)).id == mine
