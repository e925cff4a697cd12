"""SSH machine connector (asyncssh)."""

from moorage.drivers.ssh.connector import SSHConnector

__all__ = ["SSHConnector"]
