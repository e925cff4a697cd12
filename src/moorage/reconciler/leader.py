"""Heartbeats of server instances and the reconciler's leader lease.

Only one reconciler acts at a time: the holder of the ``reconciler`` row in
``reconciler_leases``, renewed every pass and taken over once it expires.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.models.instance import ReconcilerLease, ServerInstance

__all__ = ["alive_instances", "heartbeat", "try_lead"]


async def heartbeat(
    sessionmaker: async_sessionmaker[AsyncSession], instance_id: str, now: datetime
) -> None:
    """Record that instance ``instance_id`` is alive at ``now``."""
    async with write_session(sessionmaker) as db:
        instance = await db.get(ServerInstance, instance_id)
        if instance is None:
            db.add(
                ServerInstance(
                    id=instance_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                    heartbeat_at=now,
                )
            )
        else:
            instance.heartbeat_at = now


async def alive_instances(db: AsyncSession, now: datetime, ttl_seconds: float) -> set[str]:
    """Ids of instances whose heartbeat is younger than ``ttl_seconds``."""
    cutoff = now - timedelta(seconds=ttl_seconds)
    return set(
        await db.scalars(select(ServerInstance.id).where(ServerInstance.heartbeat_at > cutoff))
    )


async def try_lead(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    holder: str,
    now: datetime,
    ttl_seconds: float,
) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl_seconds``.

    Returns:
        True when ``holder`` holds the lease after the call.
    """
    try:
        async with write_session(sessionmaker) as db:
            lease = await db.scalar(
                select(ReconcilerLease).where(ReconcilerLease.name == name).with_for_update()
            )
            expires_at = now + timedelta(seconds=ttl_seconds)
            if lease is None:
                db.add(ReconcilerLease(name=name, holder=holder, expires_at=expires_at))
                return True
            if lease.holder == holder or lease.expires_at <= now:
                lease.holder = holder
                lease.expires_at = expires_at
                return True
            return False
    except IntegrityError:
        return False  # another instance inserted the row first
