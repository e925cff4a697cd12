"""A real OpenLDAP ``slapd`` of the tests' own, on loopback, for LDAP sign-in tests
and the sync benchmark.

Its own configuration file (``slapd -f``) and database directory under a
temporary directory; the memberof overlay (users get ``memberOf``); optionally a
TLS certificate for 127.0.0.1 signed by a CA made here (StartTLS on the ldap://
port, and an ldaps:// port). Never the system's slapd service. Entries are written
with ``ldapadd``/``ldapmodify``/``ldapdelete`` as the root DN.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.live_server import free_port

SUFFIX = "dc=moorage,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "slapd-root-password"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
NOBODY = f"cn=nobody,{SUFFIX}"  # groupOfNames needs one member: the placeholder

_CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {dir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
{tls}
sizelimit unlimited
database mdb
maxsize 268435456
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {dir}/db
index objectClass eq
index uid eq
index member eq
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
"""


def available() -> str | None:
    """None when slapd and the ldap-utils clients are installed, else why not."""
    for tool in ("/usr/sbin/slapd", "ldapadd", "ldapmodify", "ldapdelete"):
        if shutil.which(tool) is None:
            return f"{tool} missing (apt-get install slapd ldap-utils; scripts/setup.sh --test)"
    return None


def require_slapd() -> None:
    """Skip the test when slapd is missing (fail it with ``CI=true``, like Docker)."""
    import pytest

    missing = available()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 / localhost signed by it (openssl):
    ``(ca.pem, server.pem, server.key)``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = ["openssl"]

    def openssl(*args: str) -> None:
        subprocess.run([*run, *args], check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
            str(ca), "-days", "2", "-subj", "/CN=Moorage test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", "/CN=127.0.0.1")  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    key.chmod(0o644)
    return ca, cert, key


@dataclass
class Slapd:
    """One slapd process; :meth:`start`, :meth:`stop` (by its PID)."""

    directory: Path
    tls: bool = False
    port: int = field(default_factory=free_port)
    ldaps_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    ca_pem: str = ""

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self, timeout: float = 30) -> None:
        (self.directory / "db").mkdir(parents=True, exist_ok=True)
        tls = ""
        urls = [self.url + "/"]
        if self.tls:
            ca, cert, key = make_tls(self.directory / "tls")
            self.ca_pem = ca.read_text()
            tls = (
                f"TLSCACertificateFile {ca}\nTLSCertificateFile {cert}\n"
                f"TLSCertificateKeyFile {key}\n"
            )
            urls.append(self.ldaps_url + "/")
        config = self.directory / "slapd.conf"
        config.write_text(
            _CONFIG.format(
                dir=self.directory,
                tls=tls,
                suffix=SUFFIX,
                root_dn=ROOT_DN,
                root_password=ROOT_PASSWORD,
            )
        )
        log = open(self.directory / "slapd.log", "w")
        # -d keeps slapd in the foreground: its PID is ours to stop.
        self.process = subprocess.Popen(
            ["/usr/sbin/slapd", "-f", str(config), "-h", " ".join(urls), "-d", "256"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("slapd exited: " + (self.directory / "slapd.log").read_text())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.add(
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Moorage\n"
            f"dc: moorage\n\n"
            f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"
            f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def _tool(self, tool: str, ldif: str, *extra: str) -> None:
        result = subprocess.run(
            [tool, "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD, *extra],
            input=ldif,
            text=True,
            capture_output=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr}")

    def add(self, ldif: str) -> None:
        """``ldapadd`` the entries of ``ldif``."""
        self._tool("ldapadd", ldif)

    def modify(self, ldif: str) -> None:
        """``ldapmodify`` with ``ldif`` (changetype records)."""
        self._tool("ldapmodify", ldif)

    def delete(self, dn: str) -> None:
        """``ldapdelete`` one entry."""
        self._tool("ldapdelete", dn + "\n")

    def add_user(
        self, uid: str, password: str, *, name: str | None = None, mail: str | None = None
    ) -> str:
        """An inetOrgPerson under ou=people; returns its DN."""
        dn = f"uid={uid},{PEOPLE}"
        ldif = (
            f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name or uid}\n"
            f"sn: {uid}\nuserPassword: {password}\n"
        )
        if mail:
            ldif += f"mail: {mail}\n"
        self.add(ldif)
        return dn

    def add_group(self, cn: str, members: list[str]) -> str:
        """A groupOfNames under ou=groups (with the placeholder member); its DN."""
        dn = f"cn={cn},{GROUPS}"
        lines = "".join(f"member: {m}\n" for m in [NOBODY, *members])
        self.add(f"dn: {dn}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}")
        return dn

    def remove_member(self, group_dn: str, member_dn: str) -> None:
        self.modify(f"dn: {group_dn}\nchangetype: modify\ndelete: member\nmember: {member_dn}\n")
