"""The organisations page: a platform admin creates an org (its key shown once),
renames and removes it; an org's own admin sees only theirs, without the form."""

from __future__ import annotations

from tests.unit.conftest import App

HX = {"HX-Request": "true"}


async def test_a_platform_admin_creates_renames_and_removes_an_org(app: App):
    page = await app.client.get("/admin/orgs")
    assert page.status_code == 200 and 'id="new-org"' in page.text
    form = {
        "name": "lab",
        "display_name": "Lab",
        "admin_username": "lab-boss",
        "admin_password": "boss-pw-1",
    }
    created = await app.client.post("/admin/orgs", data=form, headers=HX)
    assert created.status_code == 200
    assert "data-org-api-key" in created.text and "mrg_" in created.text
    taken = await app.client.post("/admin/orgs", data=form, headers=HX)
    assert taken.status_code == 409 and "an org named lab exists" in taken.text
    short = await app.client.post(
        "/admin/orgs", data={**form, "name": "lab2", "admin_password": "short"}, headers=HX
    )
    assert short.status_code == 422 and "admin.password" in short.text
    assert [o["name"] for o in (await app.client.get("/api/v1/orgs")).json()] == ["default", "lab"]

    listed = await app.client.get("/admin/orgs")
    assert 'data-org="lab"' in listed.text and "Remove lab?" in listed.text
    row = listed.text.split('data-org="lab"')[1].split("</tr>")[0]
    assert "1 user ·" in row and "0 sessions" in row  # lab-boss (not the keys' service user)
    renamed = await app.client.post(
        "/admin/orgs/lab", data={"name": "physics", "display_name": "Physics"}, headers=HX
    )
    assert renamed.status_code == 204 and renamed.headers["HX-Redirect"] == "/admin/orgs"
    rotated = await app.client.post("/admin/orgs/physics/rotate-key", headers=HX)
    assert "1 older key was revoked" in rotated.text

    boss = await app.login("lab-boss", "boss-pw-1")
    own = await boss.get("/admin/orgs")
    assert 'data-org="physics"' in own.text and 'data-org="default"' not in own.text
    assert 'id="new-org"' not in own.text and "/delete" not in own.text
    refused = await boss.post("/admin/orgs", data={"name": "mine"}, headers=HX)
    assert refused.status_code == 403
    assert (await boss.post("/admin/orgs/default/rotate-key", headers=HX)).status_code == 404

    removed = await app.client.post("/admin/orgs/physics/delete", headers=HX)
    assert removed.status_code == 204
    assert (await boss.get("/admin/orgs")).status_code in (302, 303, 401)
    assert 'data-org="physics"' not in (await app.client.get("/admin/orgs")).text
    await boss.aclose()
