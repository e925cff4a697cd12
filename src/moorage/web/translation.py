"""The pages' translations: ``jinja2.ext.i18n`` with new-style gettext over
:mod:`moorage.i18n`, and labels for the words the pages show from the data
(lease states, roles, workspace kinds).

In a template: ``{{ _("Log out") }}``, ``{{ _("%(name)s launched.", name=t.name) }}``,
``{% trans count=n %}{{ count }} session{% pluralize %}{{ count }} sessions{% endtrans %}``,
and ``{{ s.state|label }}`` for a state, role or kind.
"""

from __future__ import annotations

import jinja2

from moorage.i18n import LANGUAGES, N_, current_language, gettext, translate, translate_plural
from moorage.web.script_messages import script_messages

__all__ = ["KIND_LABELS", "install_translations", "kind_label", "label"]

KIND_LABELS = {
    "terminal": N_("Terminal"),
    "vnc": N_("Desktop (VNC)"),
    "rdp": N_("Desktop (RDP)"),
    "ssh": N_("SSH"),
    "http": N_("Web app"),
}

_WORDS = {
    # workspace kinds as codes (tables); KIND_LABELS name them in sentences
    "terminal": N_("terminal"),
    "vnc": N_("vnc"),
    "rdp": N_("rdp"),
    "ssh": N_("ssh"),
    "http": N_("http"),
    # lease states (models.lease)
    "pending": N_("pending"),
    "provisioning": N_("provisioning"),
    "ready": N_("ready"),
    "stopped": N_("stopped"),
    "releasing": N_("releasing"),
    "released": N_("released"),
    "failed": N_("failed"),
    "expired": N_("expired"),
    # roles (models.user.Role) and share-link roles
    "admin": N_("admin"),
    "operator": N_("operator"),
    "instructor": N_("instructor"),
    "member": N_("member"),
    "viewer": N_("viewer"),
    "observer": N_("observer"),
    "peer": N_("peer"),
    "owner": N_("owner"),
    # workshop states (models.workshop) and a participant without a session yet
    "scheduled": N_("scheduled"),
    "ended": N_("ended"),
    "waiting": N_("waiting"),
    # alert and link states
    "open": N_("open"),
    "resolved": N_("resolved"),
    "active": N_("active"),
    "revoked": N_("revoked"),
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "online": N_("online"),
    "offline": N_("offline"),
    # environments (services.docker.environment_status)
    "reachable": N_("reachable"),
    "unreachable": N_("unreachable"),
    # environments' placement states (models.environment.EnvironmentState)
    "cordoned": N_("cordoned"),
    "draining": N_("draining"),
    # node health (services.fleet)
    "ok": N_("ok"),
    "warn": N_("warn"),
    "critical": N_("critical"),
    "unknown": N_("unknown"),
}


def label(value: object) -> str:
    """A state, role or kind (as its short word) in the page's language; other values
    unchanged."""
    text = str(getattr(value, "value", value))
    return gettext(_WORDS[text]) if text in _WORDS else text


def kind_label(kind: object) -> str:
    """A workspace kind's name in the page's language (``Desktop (VNC)``)."""
    text = str(getattr(kind, "value", kind))
    return gettext(KIND_LABELS[text]) if text in KIND_LABELS else text


def install_translations(env: jinja2.Environment) -> None:
    """Add the i18n extension, its gettext callables and ``label`` to ``env`` (the
    extension's new-style wrappers fill the parameters in, escaping them)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(translate, translate_plural, newstyle=True)  # type: ignore[attr-defined]
    env.filters["label"] = label
    env.filters["kind_label"] = kind_label
    env.globals["current_language"] = current_language
    env.globals["LANGUAGES"] = LANGUAGES
    env.globals["script_messages"] = script_messages
