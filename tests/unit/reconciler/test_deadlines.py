import asyncio
from datetime import UTC, datetime, timedelta

from moorage.reconciler.deadlines import DeadlineQueue

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_pop_due_returns_due_keys_earliest_first():
    clock = Clock()
    queue: DeadlineQueue[str] = DeadlineQueue(clock)
    queue.schedule("b", T0 + timedelta(seconds=2))
    queue.schedule("a", T0 + timedelta(seconds=1))
    queue.schedule("c", T0 + timedelta(seconds=10))
    clock.now = T0 + timedelta(seconds=5)
    assert [key for key, _ in queue.pop_due()] == ["a", "b"]
    assert len(queue) == 1
    assert queue.next_deadline() == T0 + timedelta(seconds=10)


def test_rescheduling_replaces_the_old_deadline():
    clock = Clock()
    queue: DeadlineQueue[str] = DeadlineQueue(clock)
    queue.schedule("a", T0 + timedelta(seconds=1))
    queue.schedule("a", T0 + timedelta(seconds=60))
    clock.now = T0 + timedelta(seconds=30)
    assert queue.pop_due() == []
    assert queue.deadline("a") == T0 + timedelta(seconds=60)


def test_cancelled_keys_never_come_due():
    clock = Clock()
    queue: DeadlineQueue[str] = DeadlineQueue(clock)
    queue.schedule("a", T0)
    queue.cancel("a")
    queue.cancel("never-scheduled")
    clock.now = T0 + timedelta(hours=1)
    assert queue.pop_due() == []
    assert queue.next_deadline() is None


async def test_wait_due_wakes_at_the_deadline_not_on_a_poll():
    queue: DeadlineQueue[str] = DeadlineQueue()
    due_at = datetime.now(UTC) + timedelta(milliseconds=150)
    queue.schedule("a", due_at)
    due = await asyncio.wait_for(queue.wait_due(), 2)
    woke = datetime.now(UTC)
    assert due == [("a", due_at)]
    assert timedelta(0) <= woke - due_at < timedelta(milliseconds=100)


async def test_an_earlier_deadline_shortens_a_sleep_in_progress():
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("late", datetime.now(UTC) + timedelta(hours=1))
    waiter = asyncio.create_task(queue.wait_due())
    await asyncio.sleep(0.05)
    queue.schedule("soon", datetime.now(UTC) + timedelta(milliseconds=50))
    due = await asyncio.wait_for(waiter, 2)
    assert [key for key, _ in due] == ["soon"]
