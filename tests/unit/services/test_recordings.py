"""Recordings: the org's policy decides at launch, and the reconciler's retention
deletes old recordings' files and rows."""

from datetime import timedelta

from sqlalchemy import select

from moorage.db.base import utcnow
from moorage.models.recording import Recording
from moorage.models.session import WorkspaceSession


async def test_the_org_policy_records_every_session_and_retention_deletes_old_ones(app, member):
    policy = await app.client.patch(
        "/api/v1/recording-policy",
        json={"recording_required": True, "recording_retention_days": 7},
    )
    assert policy.status_code == 200 and policy.json()["recording_required"] is True
    assert (await member.get("/api/v1/recording-policy")).status_code == 403
    session = (await member.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    assert session["recorded"] is True  # the template does not ask; the org does

    recordings = app.context.recordings
    async with app.context.sessionmaker() as db:
        row = await db.get(WorkspaceSession, session["id"])
    old = await recordings.start(row, "terminal", width=80, height=24)
    new = await recordings.start(row, "terminal", width=80, height=24)
    old.writer.output(b"old output\r\n")
    await recordings.finish(old)
    await recordings.finish(new)
    async with app.context.sessionmaker() as db:
        stale = await db.get(Recording, old.id)
        stale.started_at = utcnow() - timedelta(days=8)
        await db.commit()
    old_file = recordings.directory / f"{old.id}.cast"
    assert old_file.exists()

    assert await recordings.expire() == 1
    assert not old_file.exists()
    async with app.context.sessionmaker() as db:
        left = list(await db.scalars(select(Recording.id)))
    assert left == [new.id]
    bad = await app.client.patch("/api/v1/recording-policy", json={"recording_retention_days": 0})
    assert bad.status_code == 422
