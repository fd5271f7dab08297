"""Group membership read from a SCIM service's ``/Groups`` (RFC 7643 §4.2, RFC 7644 §3.4).

Many services never fill in ``User.groups``, so membership is read from the groups'
``members``. A group that shows no ``members`` in the listing is either empty (RFC 7643
§2.5: an empty multi-valued attribute is unassigned, and may be left out) or one whose
members the service does not list: some leave ``members`` out of listings only, and
return it when the group is read alone and asked for (RFC 7644 §3.4.2.5, ``attributes``);
AWS IAM Identity Center returns it from neither ("Limitations from SCIM specification",
IAM Identity Center SCIM Implementation Developer Guide). So each group listed without
``members`` is read alone, asking for them: what a group shows of itself is the only
answer that names its members. When no group shows a member even then, the service is
asked how many groups have members (``filter=members pr``, RFC 7644 §3.4.2.2): none, and
every group is empty; otherwise, or when it cannot say, membership cannot be told from
what it returns, and reading it fails rather than report every account as in no group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Final

from nhirecon.connectors.scim_client import ScimClient
from nhirecon.errors import ConnectorError

GROUPS: Final = "Groups"
ASK_FOR_MEMBERS: Final = "attributes=members"
"""The query that asks a service for a group's members (RFC 7644 §3.4.2.5); ``id`` is
always returned with them (RFC 7643 §7, ``returned: always``)."""

Memberships = dict[str, list[dict[str, str]]]
"""Member id → the groups it is a direct member of, each ``{"value": id, "display": name}``."""


def shows_members(group: Mapping[str, Any]) -> bool:
    """Whether a group resource carries its ``members`` (an empty list counts)."""
    return isinstance(group.get("members"), list)


def memberships(
    client: ScimClient, groups: Iterable[Mapping[str, Any]], *, max_workers: int = 1
) -> Memberships:
    """Member id → the groups of ``groups`` (a ``/Groups`` listing) it is a direct member
    of. Groups listed without ``members`` are read alone (``GET /Groups/{id}?attributes=
    members``, ``max_workers`` at a time); one gone by then (404) is left out.

    Raises :class:`~nhirecon.errors.ConnectorError` for an answer other than 200 or 404, or
    when no group shows any member, listed or read alone, and the service does not say
    that no group has members.
    """
    listed = list(groups)
    read: list[Mapping[str, Any] | None] = list(listed)
    unshown = [index for index, group in enumerate(listed) if not shows_members(group)]
    if unshown:
        with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            alone = pool.map(partial(_read_alone, client), [listed[at] for at in unshown])
            for at, group in zip(unshown, alone, strict=True):
                read[at] = group
    present = [group for group in read if group is not None]
    if present and not any(shows_members(group) for group in present):
        with_members = _count_with_members(client)
        if with_members != 0:
            said = "cannot say" if with_members is None else f"says {with_members} have"
            raise ConnectorError(
                f"{client.base_url}/{GROUPS}: none of the {len(present)} groups shows its"
                f" members, in the listing or read alone with ?attributes=members, and the"
                f" service {said} members (?{HAVE_MEMBERS}), so no account's groups can be"
                " told from it; leave groups out of compare and map for it"
            )
    return _by_member(listed, read)


HAVE_MEMBERS: Final = "filter=members%20pr&startIndex=1&count=1"
"""How many groups have members: ``totalResults`` of a listing filtered on ``members``
being present (RFC 7644 §3.4.2.2), one resource a page."""


def _count_with_members(client: ScimClient) -> int | None:
    """How many groups have members, as the service says; ``None`` when it does not (it
    refuses the filter, or answers without a count)."""
    response = client.transport.request("GET", f"{client.base_url}/{GROUPS}?{HAVE_MEMBERS}")
    if response.status != 200:
        return None
    try:
        body = response.json()
    except ConnectorError:  # not JSON: it cannot say
        return None
    total = body.get("totalResults") if isinstance(body, Mapping) else None
    return total if type(total) is int and total >= 0 else None


def _by_member(
    listed: Sequence[Mapping[str, Any]], read: Sequence[Mapping[str, Any] | None]
) -> Memberships:
    """Member id → its groups, from each listed group's members as ``read`` (``None``: a
    group gone since it was listed)."""
    found: Memberships = {}
    for group, original in zip(read, listed, strict=True):
        if group is None:
            continue
        entry = {
            "value": str(original.get("id", "")),
            "display": str(original.get("displayName") or original.get("id", "")),
        }
        for member in group.get("members") or []:
            if isinstance(member, Mapping) and member.get("value"):
                found.setdefault(str(member["value"]), []).append(entry)
    return found


def _read_alone(client: ScimClient, group: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The group read on its own with its members asked for; ``None`` when it is gone."""
    return client.read_alone(GROUPS, str(group.get("id", "")), ASK_FOR_MEMBERS)
