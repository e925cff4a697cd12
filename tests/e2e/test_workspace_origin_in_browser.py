"""The escalation a workspace web app could attempt, reproduced in Chromium.

A member launches an http workspace whose page runs script (a signed notebook
could do the same); an admin opens it through Moorage. The script tries to read
``/api/v1/users`` and to create an admin user and a token with the admin's
cookie. It must get nothing, and nothing may be created, both in the default
single-origin mode (the app is sandboxed) and with MOORAGE_WORKSPACE_PORT (the
app lives on another origin)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile

import pytest

from tests.e2e.conftest import POLL_MS
from tests.integration.conftest import fresh_server  # noqa: F401
from tests.live_server import free_port

pytestmark = pytest.mark.browser

IMAGE = "moorage-test/hostile-app:latest"

HOSTILE_PAGE = """<!doctype html><meta charset=utf-8><title>notebook</title>
<pre id=out>running</pre>
<script>
(async () => {
  const moorage = new URLSearchParams(location.hash.slice(1)).get("moorage") || "";
  const out = {};
  const json = {"Content-Type": "application/json"};
  const attempts = {
    users: ["/api/v1/users", {}],
    make_admin: ["/api/v1/users", {method: "POST", headers: json,
      body: JSON.stringify({username: "mallory", password: "mallory-password", role: "admin"})}],
    token: ["/api/v1/tokens", {method: "POST", headers: json,
      body: JSON.stringify({name: "stolen"})}],
  };
  for (const base of ["", moorage]) {
    for (const [name, [path, init]] of Object.entries(attempts)) {
      const key = (base ? "moorage_" : "relative_") + name;
      try {
        const response = await fetch(base + path, {credentials: "include", ...init});
        out[key] = {status: response.status, body: (await response.text()).slice(0, 200)};
      } catch (error) {
        out[key] = {error: String(error)};
      }
    }
  }
  document.getElementById("out").textContent = JSON.stringify(out);
})();
</script>
"""

HOSTILE_SERVER = f"""
import http.server, os
PAGE = {HOSTILE_PAGE!r}.encode()
BASE = os.environ.get("MOORAGE_BASE_URL", "/")
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = 200 if self.path.startswith(BASE) else 404
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)
http.server.ThreadingHTTPServer(("0.0.0.0", 8888), Handler).serve_forever()
"""


DOCKERFILE = 'FROM moorage/jupyter:latest\nCOPY app.py /app.py\nCMD ["python3", "/app.py"]\n'


@pytest.fixture(scope="module")
def hostile_image() -> str:
    """A web app image (python3 from moorage/jupyter) serving the hostile page."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in {
            "Dockerfile": DOCKERFILE,
            "app.py": HOSTILE_SERVER,
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    subprocess.run(["docker", "build", "-q", "-t", IMAGE, "-"], input=buffer.getvalue(), check=True)
    return IMAGE


@pytest.mark.parametrize("mode", ["single-origin", "workspace-port"])
async def test_a_hostile_web_app_cannot_act_as_the_admin_who_opens_it(
    fresh_server,  # noqa: F811
    browser,
    hostile_image,
    mode,
):
    if mode == "workspace-port":
        fresh_server.extra_env["MOORAGE_WORKSPACE_PORT"] = str(free_port())
    fresh_server.start(timeout=120)
    admin = await fresh_server.login()
    template = {
        "name": "notebook",
        "display_name": "Notebook",
        "kind": "http",
        "image": hostile_image,
        "port": 8888,
    }
    assert (await admin.post("/api/v1/templates", json=template)).status_code == 201
    member = {"username": "member", "password": "member-password", "role": "member"}
    assert (await admin.post("/api/v1/users", json=member)).status_code == 201
    owner = await fresh_server.login("member", "member-password")
    launched = await owner.post("/api/v1/sessions", json={"template": "notebook"})
    assert launched.status_code == 201, launched.text
    session_id = launched.json()["id"]
    users_before = (await admin.get("/api/v1/users")).json()

    context = await browser.new_context()
    await context.add_cookies(
        [{"name": k, "value": v, "url": fresh_server.base_url} for k, v in admin.cookies.items()]
    )
    page = await context.new_page()
    page.set_default_timeout(30_000)
    try:
        # The admin follows the session page's link, as the UI opens it.
        await page.goto(f"{fresh_server.base_url}/s/{session_id}/#moorage={fresh_server.base_url}")
        await page.wait_for_function(
            "() => document.getElementById('out').textContent !== 'running'",
            polling=POLL_MS,
        )
        result = json.loads(await page.text_content("#out") or "{}")
        if mode == "workspace-port":
            assert not page.url.startswith(fresh_server.base_url), page.url
        else:
            assert page.url.startswith(fresh_server.base_url), page.url
    finally:
        await context.close()

    for name, outcome in result.items():
        assert outcome.get("status") not in (200, 201), (name, outcome)
        assert "mallory" not in outcome.get("body", ""), (name, outcome)
        assert "admin" not in outcome.get("body", "") or outcome.get("status") == 404, (
            name,
            outcome,
        )
    users_after = (await admin.get("/api/v1/users")).json()
    assert [u["username"] for u in users_after] == [u["username"] for u in users_before]

    await owner.delete(f"/api/v1/sessions/{session_id}")
    await owner.aclose()
    await admin.aclose()
