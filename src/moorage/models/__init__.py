"""ORM models, one module per concept. Importing this package registers them all."""

from moorage.models.environment import Environment
from moorage.models.instance import ReconcilerLease, ServerInstance
from moorage.models.lease import LeaseMixin, LeaseState
from moorage.models.org import Org
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template, TemplateKind
from moorage.models.token import ApiToken, TokenKind
from moorage.models.user import Role, User

__all__ = [
    "ApiToken",
    "Environment",
    "LeaseMixin",
    "LeaseState",
    "Org",
    "ReconcilerLease",
    "Role",
    "ServerInstance",
    "Template",
    "TemplateKind",
    "TokenKind",
    "User",
    "WorkspaceSession",
]
