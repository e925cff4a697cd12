"""A stack from a Git repository, made from the stacks page: a pushed commit and its
signed webhook show the new commit deployed on the page; a broken commit shows the
rollback and its error (issue 19's "Done when")."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.git_repos import BareRepo, github_headers
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

COMPOSE = """\
services:
  app:
    image: moorage/terminal:latest
    command: ["sleep", "infinity"]
    labels:
      moorage.test: git-ui-{version}
"""
BROKEN = """\
services:
  app:
    image: moorage/terminal:latest
    command: ["sh", "-c", "echo broken; exit 7"]
"""
PUSH = json.dumps({"ref": "refs/heads/main"}).encode()


async def test_git_stack_from_the_page_webhook_and_rollback(server, browser, admin, tmp_path):
    repo = BareRepo(tmp_path / "repo")
    first = repo.push({"compose.yaml": COMPOSE.format(version=1)}, "first")
    name = f"ui-git-{uuid.uuid4().hex[:6]}"
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(30_000)
    try:
        await page.goto(f"{server.base_url}/login?next=/environments/local/stacks?new=1")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#stack-form")
        await page.fill("input[name=name]", name)
        await page.select_option("#source", "git")
        await page.fill("#git-url", "ext::sh -c true")
        await page.click("#stack-form button[type=submit]")
        # The API's 422 names git.url: shown next to that field.
        await page.locator("#git-url.is-invalid").wait_for()
        await page.fill("#git-url", repo.url)
        await page.click("#stack-form button[type=submit]")
        await page.wait_for_url(f"**/stacks?stack={name}")
        secret = await page.locator("#webhook-secret").inner_text()
        assert len(secret) > 30
        hook = await page.locator("#git-webhook-url").input_value()
        assert hook.startswith(server.base_url + "/api/v1/stacks/webhooks/")
        commit = page.locator(f"#git-commit[data-commit='{first}']")
        await commit.wait_for()
        await page.screenshot(path=str(tmp_path / "git-stack-deployed.png"))

        second = repo.push({"compose.yaml": COMPOSE.format(version=2)}, "second")
        async with httpx.AsyncClient() as git_host:
            sent = time.monotonic()
            answer = await git_host.post(hook, content=PUSH, headers=github_headers(secret, PUSH))
            assert answer.status_code == 202
            await page.locator(f"#git-commit[data-commit='{second}']").wait_for()
            print(f"webhook to deployed on the page: {time.monotonic() - sent:.2f} s")
            assert "deployed" in await page.locator("#git-check").inner_text()

            broken = repo.push({"compose.yaml": BROKEN}, "broken")
            answer = await git_host.post(hook, content=PUSH, headers=github_headers(secret, PUSH))
            assert answer.status_code == 202
        await page.locator("#git-rolled-back").wait_for()
        assert broken[:12] in await page.locator("#git-rolled-back").inner_text()
        error = await page.locator("#git-error").inner_text()
        assert "exited with code 7" in error and f"rolled back to {second[:12]}" in error
        assert await page.locator("#git-commit").get_attribute("data-commit") == second
        await page.screenshot(path=str(tmp_path / "git-stack-rolled-back.png"), full_page=True)
    finally:
        await page.screenshot(path=str(tmp_path / "git-stack-last.png"), full_page=True)
        await page.close()
        await admin.post(f"/api/v1/environments/local/stacks/{name}/down")
        await admin.delete(f"/api/v1/environments/local/stacks/{name}")
