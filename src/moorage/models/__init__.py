"""ORM models, one module per concept. Importing this package registers them all."""

from moorage.models.action_catalog import ActionEnablement, ActionFile
from moorage.models.audit import AuditEvent
from moorage.models.directory import LdapDirectory
from moorage.models.environment import Environment
from moorage.models.fleet import (
    ActionDefinition,
    ActionRun,
    Alert,
    AlertRule,
    EnrollmentToken,
    InstallLink,
    Node,
    NotificationChannel,
    Sample,
)
from moorage.models.git_stack import GitStack
from moorage.models.group import Group, GroupMember, PoolGroup, TemplateGroup
from moorage.models.image_update import ImageUpdatePolicy
from moorage.models.instance import ReconcilerLease, ServerInstance
from moorage.models.lease import LeaseMixin, LeaseState
from moorage.models.machine import Machine, MachineStatus
from moorage.models.oidc import OidcProvider, OidcSignIn
from moorage.models.org import Org
from moorage.models.pool import Pool
from moorage.models.provision import ProvisionRun
from moorage.models.quota import OrgQuota
from moorage.models.recording import Recording
from moorage.models.registry import RegistryCredential
from moorage.models.reservation import AccountState, Reservation, ReservationAccount
from moorage.models.session import WorkspaceSession
from moorage.models.share import ShareGrant, ShareLink, ShareRole
from moorage.models.template import Template, TemplateKind
from moorage.models.token import ApiToken, TokenKind, TokenScope
from moorage.models.two_factor import RecoveryCode, TwoFactor
from moorage.models.user import Role, User
from moorage.models.warm import WarmState, WarmWorkspace
from moorage.models.workshop import Workshop, WorkshopSeat, WorkshopState

__all__ = [
    "AccountState",
    "ActionDefinition",
    "ActionEnablement",
    "ActionFile",
    "ActionRun",
    "Alert",
    "AlertRule",
    "ApiToken",
    "AuditEvent",
    "EnrollmentToken",
    "Environment",
    "GitStack",
    "Group",
    "GroupMember",
    "ImageUpdatePolicy",
    "InstallLink",
    "LdapDirectory",
    "LeaseMixin",
    "LeaseState",
    "Machine",
    "MachineStatus",
    "Node",
    "NotificationChannel",
    "OidcProvider",
    "OidcSignIn",
    "Org",
    "OrgQuota",
    "Pool",
    "PoolGroup",
    "ProvisionRun",
    "ReconcilerLease",
    "Recording",
    "RecoveryCode",
    "RegistryCredential",
    "Reservation",
    "ReservationAccount",
    "Role",
    "Sample",
    "ServerInstance",
    "ShareGrant",
    "ShareLink",
    "ShareRole",
    "Template",
    "TemplateGroup",
    "TemplateKind",
    "TokenKind",
    "TokenScope",
    "TwoFactor",
    "User",
    "WarmState",
    "WarmWorkspace",
    "Workshop",
    "WorkshopSeat",
    "WorkshopState",
    "WorkspaceSession",
]
