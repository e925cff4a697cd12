"""Webhook signatures, the approval diff, drift and the health rule of Git stacks."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from moorage.errors import Unauthenticated
from moorage.services.docker.git_changes import drift_of, pending_diff, snapshot_of
from moorage.services.docker.git_health import Unhealthy, not_ready, ps_rows
from moorage.services.docker.git_webhooks import sign_github, verify_webhook

BODY = b'{"ref": "refs/heads/main"}'
SECRET = "s3cret-webhook"


def test_signatures_of_the_three_hosts():
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert verify_webhook(SECRET, {"x-hub-signature-256": f"sha256={digest}"}, BODY) == "github"
    assert sign_github(SECRET, BODY) == f"sha256={digest}"
    assert verify_webhook(SECRET, {"x-gitea-signature": digest}, BODY) == "gitea"
    assert verify_webhook(SECRET, {"x-forgejo-signature": digest}, BODY) == "gitea"
    assert verify_webhook(SECRET, {"x-gitlab-token": SECRET}, BODY) == "gitlab"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-hub-signature-256": sign_github("other", BODY)},
        {"x-hub-signature-256": sign_github(SECRET, BODY + b" ")},
        {"x-gitea-signature": "00" * 32},
        {"x-gitlab-token": SECRET + "x"},
    ],
)
def test_wrong_signatures_refused(headers):
    with pytest.raises(Unauthenticated) as refused:
        verify_webhook(SECRET, headers, BODY)
    assert refused.value.code == "webhook_signature"


def test_unsigned_refused():
    with pytest.raises(Unauthenticated) as refused:
        verify_webhook(SECRET, {"x-github-event": "push"}, BODY)
    assert refused.value.code == "webhook_unsigned"


def test_pending_diff_names_env_keys_not_values():
    old = "services:\n  a:\n    image: x:${TAG:-1}\n"
    new = old.replace(":-1", "") + "    environment:\n      P: $PASSWORD\n      L: $$LIT\n"
    diff = pending_diff(old, new, "TAG=2\nexport OTHER=1\n# PASSWORD=no\n", "compose.yaml")
    assert diff["env"] == {"added": ["PASSWORD"], "removed": [], "missing": ["PASSWORD"]}
    assert "+      P: $PASSWORD" in diff["compose_diff"]
    assert diff["compose_diff"].startswith("--- a/compose.yaml")


def _container(service, *, id_="c1", hash_="h1", image="img:1", state="running"):
    return {
        "id": id_,
        "image": image,
        "state": state,
        "labels": {
            "com.docker.compose.service": service,
            "com.docker.compose.config-hash": hash_,
        },
    }


def test_drift():
    deployed = snapshot_of([_container("web"), _container("db", id_="c2")])
    assert drift_of(deployed, [_container("web"), _container("db", id_="c2")]) == []
    assert drift_of(
        deployed,
        [
            _container("web", id_="c9", hash_="h2", image="img:2", state="exited"),
            _container("extra", id_="c3"),
        ],
    ) == [
        "db: its container was removed",
        "web: its configuration changed outside Moorage",
        "web: runs img:2 instead of img:1",
        "web: exited instead of running",
        "extra: a container Moorage did not deploy",
    ]
    assert drift_of(deployed, [_container("web", id_="c7"), _container("db", id_="c2")]) == [
        "web: its container was replaced"
    ]


def test_health_rule():
    output = 'level=warning msg="The \\"X\\" variable is not set."\n'
    output += '{"Service": "web", "State": "running", "Health": ""}\n'
    output += '{"Service": "job", "State": "exited", "ExitCode": 0, "Health": ""}\n'
    rows = ps_rows(output)
    assert [r["Service"] for r in rows] == ["web", "job"]
    since: dict[str, float] = {}
    assert not_ready(rows, since, 30) == ["web has run under 30 s"]
    assert not_ready(rows, since, 0) == []
    assert not_ready([{"Service": "web", "State": "running", "Health": "starting"}], {}, 0) == [
        "web is starting"
    ]
    assert not_ready([], {}, 0) == ["no container is running"]
    with pytest.raises(Unhealthy, match="web is unhealthy"):
        not_ready([{"Service": "web", "State": "running", "Health": "unhealthy"}], {}, 0)
    with pytest.raises(Unhealthy, match="exited with code 3"):
        not_ready([{"Service": "web", "State": "exited", "ExitCode": 3}], {}, 0)
