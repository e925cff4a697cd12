"""What the pages' scripts say (static/*.js), marked for the catalogs and handed to
the page in its language (``_i18n_messages.html``, read by ``static/i18n.js``).

Each entry is the English text a script passes to ``moorageT``, with ``{name}``
placeholders the script fills in; a script's text missing here stays English.
"""

from __future__ import annotations

from moorage.i18n import DEFAULT_LANGUAGE, N_, current_language, translate

__all__ = ["SCRIPT_MESSAGES", "script_messages"]


SCRIPT_MESSAGES = (
    # moorage.js
    N_(
        "Moorage did not answer: the network or the server is down. Check your connection and try again."  # noqa: E501
    ),
    N_("Close"),
    N_("Done."),
    N_("{label}: done."),
    N_("Confirm"),
    N_("Cancel"),
    N_("expired"),
    # theme.js
    N_("Use the dark theme"),
    N_("Use the light theme"),
    # session.js
    N_("This session"),
    N_("Extended by {minutes} min: the session now ends at {time}."),
    N_("Moorage could not be reached; try again."),
    N_("Kept: the session stays while you use it."),
    N_("Notify me"),
    N_("{name} ends in {left}, at {time}."),
    N_("Save your work now."),
    N_("Save your work."),
    N_("Keep it"),
    N_("No activity for a while: {name} ends in {left} unless you keep it."),
    N_("{name} is idle"),
    N_("It ends in {minutes} min unless you keep it."),
    N_("{name} ends in {minutes} min"),
    N_("At {time}. Save your work, or add time on its page."),
    N_("{name} has ended."),
    N_("This session no longer exists."),
    N_("{name} has ended"),
    N_("Its workspace was deleted."),
    N_("ended"),
    N_("released"),
    N_("releasing"),
    N_("failed"),
    N_("the shell exited"),
    N_("Start a new shell"),
    N_("disconnected ({why}); reconnecting in {seconds} s…"),
    N_("Reconnect now"),
    N_("connecting…"),
    N_("reconnecting…"),
    N_("connected"),
    # shared.js, session-vnc.js
    N_("Sign in again to open this share link."),
    N_("This share link no longer opens the session."),
    N_("The session's owner disconnected you."),
    N_("The session has ended."),
    N_("The share link was revoked or has expired."),
    N_("The session is not running now."),
    N_("{why}; reconnecting in {seconds} s…"),
    N_("the session has ended"),
    N_("disconnected"),
    N_("connection lost"),
    # events.html
    N_("engine connected"),
    N_("engine"),
    # workshop.js
    N_("Copied"),
    N_("The browser refused to copy; select the text instead."),
    N_("{ok} of {total} session(s) succeeded"),
    N_("error: {error}"),
    N_("exit {code}"),
    N_("no time left"),
    N_("{minutes} min left"),
    N_("{seconds} s left"),
    N_("Observe"),
    N_("Take control"),
    N_("Reset"),
    N_("Screen of {name}"),
    N_("You can now type in {name}'s workspace"),
    N_("Observing {name} (read-only)"),
    N_(
        "Reset {name}'s workspace? Their current workspace is removed with everything in it, and a fresh one starts."  # noqa: E501
    ),
    N_("{name} has a fresh workspace"),
    # workshop.js: a participant's state (models.lease, or waiting before a session)
    N_("waiting"),
    N_("pending"),
    N_("provisioning"),
    N_("ready"),
    N_("stopped"),
    # join.js
    N_("now"),
    N_("{days} d"),
    # recording-player.js
    N_("Playing; pause, seek or go full screen with the player's controls."),
)


def script_messages() -> dict[str, str]:
    """``{English: translation}`` of :data:`SCRIPT_MESSAGES` in the current language;
    empty in English (the scripts' own text)."""
    if current_language() == DEFAULT_LANGUAGE:
        return {}
    return {text: translate(text) for text in SCRIPT_MESSAGES}
