"""The files a provisioning run writes for Ansible: pinned host keys, removed afterwards."""

from moorage.services.provisioning import known_hosts_line


def test_known_hosts_pins_the_host_key_with_the_port_when_not_22():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"
    assert known_hosts_line("10.0.0.5", 22, key + "\n") == f"10.0.0.5 {key}\n"
    assert known_hosts_line("127.0.0.1", 2222, key) == f"[127.0.0.1]:2222 {key}\n"
