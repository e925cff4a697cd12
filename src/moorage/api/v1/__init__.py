"""Version 1 of the JSON API."""

from fastapi import APIRouter

from moorage.api.v1 import (
    actions,
    agents,
    alerts,
    audit,
    auth,
    containers,
    directory,
    directory_oidc,
    docker_objects,
    enrollment_tokens,
    environments,
    git_stacks,
    groups,
    health,
    image_updates,
    install,
    machines,
    networks,
    node_metrics,
    nodes,
    orgs,
    recordings,
    reservations,
    sessions,
    shares,
    sign_in_locks,
    stacks,
    templates,
    two_factor,
    users,
    workshops,
)

router = APIRouter(prefix="/api/v1")
router.include_router(auth.router)
router.include_router(health.router)
router.include_router(sessions.router)
router.include_router(shares.router)
router.include_router(templates.router)
router.include_router(users.router)
router.include_router(two_factor.router)
router.include_router(directory.router)
router.include_router(directory_oidc.router)
router.include_router(groups.router)
router.include_router(orgs.router)
router.include_router(sign_in_locks.router)
router.include_router(machines.router)
router.include_router(reservations.router)
router.include_router(environments.router)
router.include_router(audit.router)
router.include_router(containers.router)
router.include_router(docker_objects.router)
router.include_router(networks.router)
router.include_router(git_stacks.router)
router.include_router(stacks.router)
router.include_router(image_updates.router)
router.include_router(agents.router)
router.include_router(install.router)
router.include_router(enrollment_tokens.router)
router.include_router(nodes.router)
router.include_router(node_metrics.router)
router.include_router(actions.router)
router.include_router(alerts.router)
router.include_router(recordings.router)
router.include_router(workshops.router)

__all__ = ["router"]
