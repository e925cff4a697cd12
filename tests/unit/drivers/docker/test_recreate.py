"""A recreated container keeps what its operator gave it and takes what the new image
gives: :func:`clone_config` over inspect documents as Docker writes them."""

from __future__ import annotations

from moorage.drivers.docker.recreate import clone_config

OLD_ID = "0123456789ab" + "c" * 52
IMAGE_CONFIG = {
    "Env": ["PATH=/usr/bin", "APP_VERSION=1"],
    "Labels": {"org.opencontainers.image.version": "1"},
    "Cmd": ["serve"],
    "Healthcheck": {"Test": ["CMD", "true"]},
    "WorkingDir": "/app",
}
INFO = {
    "Id": OLD_ID,
    "Name": "/web",
    "Config": {
        "Hostname": OLD_ID[:12],
        "Image": "127.0.0.1:5000/app:1",
        "Env": ["PATH=/usr/bin", "APP_VERSION=1", "GREETING=hello"],
        "Labels": {"org.opencontainers.image.version": "1", "team": "blue"},
        "Cmd": ["serve"],
        "Healthcheck": {"Test": ["CMD", "true"]},
        "WorkingDir": "/srv",
        "ExposedPorts": {"8080/tcp": {}},
    },
    "HostConfig": {
        "Binds": ["data:/data"],
        "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
        "RestartPolicy": {"Name": "unless-stopped"},
        "NetworkMode": "front",
    },
    "Mounts": [
        {"Type": "volume", "Name": "data", "Destination": "/data"},
        {"Type": "volume", "Name": "f00d" * 16, "Destination": "/cache"},  # anonymous
    ],
    "NetworkSettings": {
        "Networks": {
            "front": {"Aliases": ["web", OLD_ID[:12]], "NetworkID": "n1", "IPAddress": "1.2.3.4"},
            "back": {"Aliases": None, "NetworkID": "n2"},
        }
    },
}


def test_the_copy_keeps_the_operators_settings_and_drops_the_old_images_defaults():
    config = clone_config(INFO, IMAGE_CONFIG, "127.0.0.1:5000/app:2")
    assert config["Image"] == "127.0.0.1:5000/app:2"
    assert config["Env"] == ["GREETING=hello"]  # the image's ENV comes from the new image
    assert config["Labels"] == {"team": "blue"}
    assert "Cmd" not in config and "Healthcheck" not in config  # the new image's apply
    assert config["WorkingDir"] == "/srv"  # chosen by the operator: kept
    assert "Hostname" not in config  # Docker's short id of the old container
    host = config["HostConfig"]
    assert host["RestartPolicy"] == {"Name": "unless-stopped"}
    assert host["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
    assert host["Binds"] == ["data:/data", f"{'f00d' * 16}:/cache"]  # the data stays
    assert config["NetworkingConfig"] == {"EndpointsConfig": {"front": {"Aliases": ["web"]}}}


def test_a_chosen_hostname_is_kept():
    info = {**INFO, "Config": {**INFO["Config"], "Hostname": "db-primary"}}
    assert clone_config(info, IMAGE_CONFIG, "x:2")["Hostname"] == "db-primary"


def test_host_network_mode_gets_no_endpoint():
    info = {**INFO, "HostConfig": {**INFO["HostConfig"], "NetworkMode": "host"}}
    assert "NetworkingConfig" not in clone_config(info, IMAGE_CONFIG, "x:2")
