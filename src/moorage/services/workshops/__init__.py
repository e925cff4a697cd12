"""Workshops: a class of participants, one time slot, the same workspace for everyone.

An instructor creates a workshop (:meth:`WorkshopService.create`): a template, a time
window, a capacity, a duration per participant, and whether participants sign in or
join anonymously. It gets a join code (:mod:`.codes`) and a join link ``/join/<code>``.

* **joining** (:mod:`.joining`): by the code, throttled against guessing; a seat per
  participant (a temporary user for an anonymous one, :mod:`.guests`), whose session
  is launched through the session service, claiming a warm workspace when there is
  one; coming back gets the same session;
* **warm pools**: from ``prewarm_minutes`` before the start the template's warm pool
  keeps at least ``ceil(capacity × prewarm_share)`` workspaces
  (:meth:`WorkshopService.warm_demand`, read by the warm pool keeper, which keeps
  the larger of that and the template's own ``warm``);
* **the instructor's actions** (:mod:`.actions`): reset a participant, extend
  everyone, broadcast a message or a terminal command, observe a participant's
  workspace read-only or take control (a named share link,
  :mod:`moorage.services.shares`);
* **the end** (:mod:`.ending`): at ``ends_at`` (the reconciler's ``workshops`` job)
  or by the instructor, every seat's session is released and the temporary users
  removed; idempotent and crash-safe.

Who may run a workshop: its instructor, or an admin of its org; anyone else gets
404. Every action is audited ``workshop.<verb>``.
"""

from moorage.services.workshops.actions import Observation
from moorage.services.workshops.base import may_run
from moorage.services.workshops.joining import Joined
from moorage.services.workshops.rules import workshop_state
from moorage.services.workshops.service import Participant, WorkshopService

__all__ = ["Joined", "Observation", "Participant", "WorkshopService", "may_run", "workshop_state"]
