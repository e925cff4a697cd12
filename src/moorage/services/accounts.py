"""Accounts made on pool machines: username rules and generated credentials."""

from __future__ import annotations

import re
import secrets
import string

from moorage.errors import InvalidInput

__all__ = ["RESERVED_USERNAMES", "check_password", "check_username", "generate_username"]

# POSIX portable user names as useradd(8) accepts them by default on Debian
# (NAME_REGEX ^[a-z][-a-z0-9_]*$), at most 32 characters.
USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{2,31}$")

# Debian's static system users (base-passwd's passwd.master) and other names
# that must never be handed out or deleted.
RESERVED_USERNAMES = frozenset(
    {
        "root",
        "daemon",
        "bin",
        "sys",
        "sync",
        "games",
        "man",
        "lp",
        "mail",
        "news",
        "uucp",
        "proxy",
        "www-data",
        "backup",
        "list",
        "irc",
        "gnats",
        "nobody",
        "systemd-network",
        "systemd-resolve",
        "systemd-timesync",
        "messagebus",
        "sshd",
        "_apt",
        "admin",
        "administrator",
        "ubuntu",
        "debian",
        "operator",
        "postgres",
        "mysql",
        "docker",
        "ansible",
        "sudo",
        "wheel",
        "staff",
        "users",
        "adm",
        "shadow",
        "utmp",
        "tty",
        "disk",
    }
)


def check_username(username: str, *, login_users: set[str] | None = None) -> str:
    """Return ``username`` if it may be created on pool machines.

    Raises:
        InvalidInput: not 3–32 characters of ``[a-z0-9_-]`` starting with a letter,
            a reserved system name, or a machine's own login user.
    """
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput(
            "username must be 3-32 characters: lowercase letters, digits, '_' or '-', "
            "starting with a letter",
            field="username",
        )
    if (
        username in RESERVED_USERNAMES
        or username.startswith(("systemd-", "_"))
        or (login_users and username in login_users)
    ):
        raise InvalidInput(f"the username {username!r} is reserved", field="username")
    return username


def check_password(password: str) -> str:
    """Return ``password`` if acceptable for an account (8-128 printable characters, no ':').

    Raises:
        InvalidInput: too short, too long, or containing ':' or a control character
            (chpasswd(8) reads ``user:password`` lines).
    """
    if not 8 <= len(password) <= 128:
        raise InvalidInput("password must be 8-128 characters", field="password")
    if ":" in password or any(ch in password for ch in "\n\r\0"):
        raise InvalidInput("password must not contain ':' or control characters", field="password")
    return password


def generate_username() -> str:
    """A fresh account name: ``lab-`` and 6 random lowercase letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "lab-" + "".join(secrets.choice(alphabet) for _ in range(6))
