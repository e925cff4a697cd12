"""The workshop pages: the join link's states (countdown, ended, a display-name form,
straight into the workspace), the login page's code field, the participant's banner,
and the instructor's list, create form and workshop page."""

from __future__ import annotations

from datetime import timedelta

from moorage.db.base import utcnow
from tests.unit.conftest import App
from tests.unit.services.test_workshops import anonymous_client, create, instructor, user_client

__all__ = ["instructor"]  # the fixture, shared with the service's tests


async def test_the_join_link_counts_down_before_the_start(app: App, instructor, member):
    made = await create(instructor, starts_at=(utcnow() + timedelta(hours=2)).isoformat())
    page = await member.get(f"/join/{made['join_code']}")
    assert page.status_code == 200
    assert 'id="join-countdown"' in page.text and "data-starts-at" in page.text
    assert "/static/join.js" in page.text and "<script>" not in page.text


async def test_the_join_link_says_the_workshop_ended(app: App, instructor, member):
    made = await create(instructor)
    await instructor.post(f"/api/v1/workshops/{made['id']}/end")
    page = await member.get(f"/join/{made['join_code']}")
    assert page.status_code == 410 and "This workshop has ended" in page.text


async def test_a_signed_in_participant_goes_straight_to_the_workspace(app: App, instructor, member):
    made = await create(instructor)
    first = await member.get(f"/join/{made['join_code']}")
    assert first.status_code == 303 and first.headers["location"].startswith("/sessions/")
    again = await member.get(f"/join/{made['join_code'].lower()}")
    assert again.headers["location"] == first.headers["location"]


async def test_a_visitor_signs_in_first_or_gives_a_name_when_anonymous(app: App, instructor):
    signed = await create(instructor)
    anonymous = await create(instructor, anonymous=True)
    async with anonymous_client(app) as visitor:
        page = await visitor.get(f"/join/{signed['join_code']}")
        assert page.status_code == 303
        assert page.headers["location"] == f"/login?next=/join/{signed['join_code']}"
        form = await visitor.get(f"/join/{anonymous['join_code']}")
        assert form.status_code == 200 and 'name="display_name"' in form.text
        joined = await visitor.post(
            f"/join/{anonymous['join_code']}",
            data={"display_name": "Zoe"},
            headers={"HX-Request": "true"},
        )
        assert joined.status_code == 204 and joined.headers["HX-Redirect"].startswith("/sessions/")
        workspace = await visitor.get(joined.headers["HX-Redirect"])
        assert workspace.status_code == 200
        assert f"/ui/sessions/{joined.headers['HX-Redirect'].rsplit('/', 1)[1]}/workshop" in (
            workspace.text
        )


async def test_an_unknown_code_is_404_and_the_login_page_takes_a_code(app: App):
    async with anonymous_client(app) as visitor:
        assert (await visitor.get("/join/NOPE2345")).status_code == 404
        login = await visitor.get("/login")
        assert 'action="/join"' in login.text and 'name="code"' in login.text
        to = await visitor.get("/join", params={"code": " ab2c-d3ef "})
        assert to.headers["location"] == "/join/AB2CD3EF"


async def test_the_banner_is_empty_for_a_session_that_is_no_seat(app: App, member):
    launched = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    banner = await member.get(f"/ui/sessions/{launched.json()['id']}/workshop")
    assert banner.status_code == 200 and "workshop-banner" not in banner.text


async def test_the_instructor_creates_from_the_form_and_sees_the_workshop_page(
    app: App, instructor, member
):
    listing = await instructor.get("/workshops")
    assert listing.status_code == 200 and 'id="workshop-create"' in listing.text
    made = await instructor.post(
        "/ui/workshops",
        data={
            "title": "Shell basics",
            "template": "debian-shell",
            "capacity": "10",
            "starts_at": "",
            "ends_at": "",
            "duration_minutes": "45",
            "utc_offset_minutes": "-60",
        },
        headers={"HX-Request": "true"},
    )
    assert made.status_code == 204, made.text
    page = await instructor.get(made.headers["HX-Redirect"])
    assert page.status_code == 200
    markers = ('id="join-code"', 'id="participants-grid"', 'id="end-now"', "/static/workshop.js")
    assert all(marker in page.text for marker in markers)
    bad = await instructor.post(
        "/ui/workshops",
        data={"title": "x", "template": "debian-shell", "capacity": "3", "ends_at": "soon"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and 'data-error-field="ends_at"' in bad.text
    other = await user_client(app, "otto", "instructor")
    assert (await other.get(made.headers["HX-Redirect"])).status_code == 404
    assert (await member.get("/workshops")).status_code == 403
    await other.aclose()
