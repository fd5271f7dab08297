"""What a person does about each finding kind, for the formats that carry help text
(SARIF rules, OCSF ``remediation``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from nhirecon.core.model import FindingKind

REMEDIES: Final[Mapping[FindingKind, str]] = {
    FindingKind.JIT_ORPHAN: "Disable or delete the account, or link it to its owner in the "
    "source of truth; bring the app under SCIM lifecycle sync so that leavers are removed.",
    FindingKind.ORPHAN: "Disable or delete the account, or add its owner to the source of "
    "truth (or fix the correlation rule that should link it).",
    FindingKind.LEAVER: "Disable the account now; check why deprovisioning did not remove it.",
    FindingKind.EXPIRED: "Disable the account or credential, or extend its expiry in the "
    "source of truth if it is still needed.",
    FindingKind.STALE_ATTRIBUTE: "Sync the attribute from the source of truth (SCIM PATCH or "
    "the app's admin console).",
    FindingKind.UNMANAGED: "Bring the account under lifecycle sync (SCIM externalId) so that "
    "it is updated and removed with its identity.",
    FindingKind.DORMANT: "Disable the account if it is no longer needed.",
    FindingKind.STALE_CREDENTIAL: "Rotate the credential and record the rotation date.",
    FindingKind.OWNERLESS: "Assign an active owner to the non-human identity in the "
    "inventory, or retire it.",
    FindingKind.AMBIGUOUS: "Make the correlation keys unique (or add a more specific rule "
    "first) so the account links to exactly one identity.",
    FindingKind.DUPLICATE_ACCOUNT: "Decide which account the person should keep; disable or "
    "delete the others (a look-alike name is a warning sign).",
    FindingKind.HUMAN_USE: "Remove the interactive password (console access) of the non-human "
    "identity and find out who signed in with it; people use their own accounts.",
    FindingKind.SHARED_CREDENTIAL: "Rotate the credential and issue one per holder, so that "
    "each can be revoked alone and a leak traced to one of them.",
}
