"""Who "the agent" of an item is, and which agent a user of the ``agent`` role is.

The agent of an item is its internal party: the first party on the company's
side (``Side.AGENT``, decided at ingest by ``archive.parties`` from the
configured internal domains, SIP domains and numbers); for a call, the one with
an audio channel first. Its normalised address (an e-mail address or SIP URI in
lower case, a number in E.164) is the agent's identifier; an item with no
internal party has agent ``""`` and is never sampled per agent.

A user of the ``agent`` role is linked (by an admin) to one or more such
identifiers, optionally with a team for the statistics; it sees the reviews
whose agent is one of them, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from archive import quality_tables as qt
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode, InvalidRequest
from archive.model import AddressKind, ItemRecord, Side
from archive.service import Archive
from archive.users import User


def agent_of(record: ItemRecord) -> str:
    """The item's agent identifier (see the module docstring), or ``""``."""
    internal = [p for p in record.parties if p.side is Side.AGENT]
    internal.sort(key=lambda p: p.channel_index is None)
    if not internal:
        return ""
    party = internal[0]
    if party.kind in (AddressKind.EMAIL, AddressKind.SIP):
        return party.address.lower()
    return party.address


def link(archive: Archive, user_name: str, identifiers: Iterable[str], *, team: str | None,
         actor: str, role: str) -> list[str]:
    """Link an ``agent`` user to its identifiers (replacing earlier links); audited."""
    found = [u for u in archive.users.list() if u.name == user_name]
    if not found:
        raise InvalidRequest(f"user {user_name!r} does not exist", code=ErrorCode.NOT_FOUND)
    if found[0].role is not Role.AGENT:
        raise InvalidRequest(f"user {user_name!r} has role {found[0].role.value}, not agent")
    wanted = sorted({archive.normalise_subject(i) for i in identifiers if i.strip()})
    if not wanted:
        raise InvalidRequest(f"user {user_name!r}: give at least one identifier")
    with archive.vault.write() as tx:
        tx.conn.execute(qt.agent_links.delete().where(qt.agent_links.c.user_name == user_name))
        tx.conn.execute(qt.agent_links.insert(), [
            {"user_name": user_name, "identifier": i, "team": team} for i in wanted])
        tx.event(actor=actor, role=role, action="quality_agent_link",
                 detail={"user": user_name, "identifiers": len(wanted), "team": team})
    return wanted


def identifiers_of(archive: Archive, user: User) -> set[str]:
    """The identifiers an ``agent`` user stands for (AccessDenied for any other role)."""
    if user.role is not Role.AGENT:
        raise AccessDenied(ErrorCode.WRONG_ROLE, f"role {user.role.value} is not an agent")
    with archive.catalog.read() as conn:
        return {str(r[0]) for r in conn.execute(
            sa.select(qt.agent_links.c.identifier).where(qt.agent_links.c.user_name == user.name))}


def teams(archive: Archive) -> dict[str, str]:
    """Agent identifier -> team, for those with one."""
    with archive.catalog.read() as conn:
        return {str(r.identifier): str(r.team) for r in conn.execute(
            sa.select(qt.agent_links.c.identifier, qt.agent_links.c.team)
            .where(qt.agent_links.c.team.is_not(None)))}


def named(archive: Archive) -> dict[str, tuple[str | None, list[str]]]:
    """Every ``agent`` user linked to identifiers: name -> (team, identifiers), by name.
    The search form's list of agents (only for roles that may see parties)."""
    agents = {u.name for u in archive.users.list() if u.role is Role.AGENT}
    out: dict[str, tuple[str | None, list[str]]] = {}
    with archive.catalog.read() as conn:
        rows = conn.execute(sa.select(qt.agent_links).order_by(
            qt.agent_links.c.user_name, qt.agent_links.c.identifier)).all()
    for row in rows:
        if row.user_name in agents:
            ids = out.setdefault(str(row.user_name), (row.team, []))[1]
            ids.append(str(row.identifier))
    return out
