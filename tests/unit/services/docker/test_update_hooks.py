"""The veto step before an update: hooks run in order, the first refusal wins, and a
hook that raises refuses (a broken scanner must not let an update through)."""

from __future__ import annotations

from moorage.services.docker.update_hooks import UpdateCandidate, first_veto, load_hooks

CANDIDATE = UpdateCandidate("local", "container", "web", (("h:5000/app:1", "sha256:x"),))


async def allow(candidate: UpdateCandidate) -> str | None:
    return None


async def scanner(candidate: UpdateCandidate) -> str | None:
    return f"3 critical CVEs in {candidate.images[0][0]}"


async def broken(candidate: UpdateCandidate) -> str | None:
    raise RuntimeError("database missing")


async def test_no_hook_or_consenting_hooks_let_the_update_go():
    assert await first_veto([], CANDIDATE) is None
    assert await first_veto([allow, allow], CANDIDATE) is None


async def test_the_first_refusal_is_the_reason():
    assert await first_veto([allow, scanner, broken], CANDIDATE) == (
        "scanner: 3 critical CVEs in h:5000/app:1"
    )


async def test_a_failing_hook_vetoes():
    reason = await first_veto([broken, allow], CANDIDATE)
    assert reason == "broken failed: RuntimeError: database missing"


def test_no_installed_plugin_means_no_hook():
    assert load_hooks() == []
