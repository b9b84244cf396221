"""Roles and what each may do (issue 14): ``viewer`` reads; ``uploader`` also stores (STOW-RS, C-STORE);
``admin`` also deletes and runs operator actions. A user's permissions are the union of its roles'.

>>> permits(("uploader",), "store"), permits(("viewer",), "delete")
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable

ACTIONS = ("read", "store", "delete", "operate")
ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "uploader": frozenset({"read", "store"}),
    "admin": frozenset(ACTIONS),
}
# the DIMSE services (dicomkit.services.aetable.SERVICES) as actions
SERVICE_ACTIONS = {"echo": None, "find": "read", "move": "read", "get": "read", "worklist": "read",
                   "store": "store", "mpps": "store", "commit": "store"}


def permissions(roles: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for role in roles:
        out |= ROLES.get(role, frozenset())
    return frozenset(out)


def permits(roles: Iterable[str], action: str | None) -> bool:
    """Whether ``roles`` allow ``action`` (None — e.g. C-ECHO — is allowed to everyone authenticated)."""
    if action is None:
        return True
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return action in permissions(roles)


__all__ = ["ACTIONS", "ROLES", "SERVICE_ACTIONS", "permissions", "permits"]
