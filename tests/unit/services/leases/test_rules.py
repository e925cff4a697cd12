from datetime import UTC, datetime, timedelta

import pytest

from moorage.errors import Conflict, InvalidInput
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.services.leases.rules import extend_expiry, requested_duration, transition

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def lease(state: LeaseState = LeaseState.READY, minutes: int = 30) -> WorkspaceSession:
    return WorkspaceSession(
        state=state.value, starts_at=NOW, expires_at=NOW + timedelta(minutes=minutes), extensions=0
    )


def test_transition_follows_the_lease_states_and_stamps_release_time():
    row = lease(LeaseState.PENDING)
    for state in (LeaseState.PROVISIONING, LeaseState.READY, LeaseState.RELEASING):
        transition(row, state, now=NOW)
        assert row.state == state.value
        assert row.released_at is None
    transition(row, LeaseState.RELEASED, now=NOW + timedelta(seconds=5))
    assert row.released_at == NOW + timedelta(seconds=5)


@pytest.mark.parametrize(
    "start", [LeaseState.PENDING, LeaseState.PROVISIONING, LeaseState.READY, LeaseState.RELEASING]
)
def test_failed_is_reachable_from_every_live_state(start):
    row = lease(start)
    transition(row, LeaseState.FAILED, now=NOW, error="boom")
    assert (row.state, row.error, row.released_at) == ("failed", "boom", NOW)


@pytest.mark.parametrize(
    "start,to",
    [
        (LeaseState.RELEASED, LeaseState.READY),
        (LeaseState.FAILED, LeaseState.FAILED),
        (LeaseState.READY, LeaseState.PROVISIONING),
        (LeaseState.PENDING, LeaseState.RELEASED),
    ],
)
def test_transition_refuses_moves_outside_the_state_machine(start, to):
    with pytest.raises(Conflict):
        transition(lease(start), to, now=NOW)


def test_requested_duration_defaults_to_the_template_default():
    assert requested_duration(
        duration_minutes=None, duration_seconds=None, default_minutes=45, max_minutes=60
    ) == timedelta(minutes=45)


def test_requested_duration_accepts_seconds_down_to_ten():
    assert requested_duration(
        duration_minutes=None, duration_seconds=10, default_minutes=45, max_minutes=60
    ) == timedelta(seconds=10)
    with pytest.raises(InvalidInput) as caught:
        requested_duration(
            duration_minutes=None, duration_seconds=9, default_minutes=45, max_minutes=60
        )
    assert caught.value.details["field"] == "duration_seconds"


def test_requested_duration_over_the_maximum_names_the_maximum():
    with pytest.raises(InvalidInput) as caught:
        requested_duration(
            duration_minutes=61, duration_seconds=None, default_minutes=45, max_minutes=60
        )
    assert "60 minutes" in caught.value.message
    assert caught.value.details["maximum_minutes"] == 60


def test_requested_duration_refuses_both_units():
    with pytest.raises(InvalidInput):
        requested_duration(
            duration_minutes=5, duration_seconds=30, default_minutes=45, max_minutes=60
        )


def test_extend_moves_the_deadline_and_counts():
    row = lease(minutes=30)
    assert extend_expiry(row, minutes=15, max_minutes=60, now=NOW) == NOW + timedelta(minutes=45)
    assert row.extensions == 1


def test_extend_never_passes_the_maximum_and_says_what_is_left():
    row = lease(minutes=50)
    with pytest.raises(InvalidInput) as caught:
        extend_expiry(row, minutes=30, max_minutes=60, now=NOW)
    assert "at most 10 more minutes" in caught.value.message
    assert row.expires_at == NOW + timedelta(minutes=50)
    assert row.extensions == 0


def test_extend_refuses_a_lease_that_is_not_ready():
    with pytest.raises(Conflict):
        extend_expiry(lease(LeaseState.RELEASED), minutes=5, max_minutes=60, now=NOW)


def test_extend_refuses_non_positive_minutes():
    with pytest.raises(InvalidInput):
        extend_expiry(lease(), minutes=0, max_minutes=60, now=NOW)
