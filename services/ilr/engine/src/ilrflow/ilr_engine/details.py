"""Learner-led changes: name, address, contact details (domain.md §3.2, §3.7 first rows).

The ILR keeps no history of learner fields, so these update in place; the audit service keeps
the before and after. PostcodePrior is never touched by a change of address [D7].
"""

from __future__ import annotations

from typing import Any

from ilrflow.ilr_engine import normalise
from ilrflow.ilr_engine.policy import ChangeRejectedError, IlrPolicy, Outcome, changed, unchanged
from ilrflow.ilr_engine.records import Learner

ADDRESS_FIELDS = ("AddLine1", "AddLine2", "AddLine3", "AddLine4")


def change_of_name(record: Learner, changes: dict[str, Any], _: IlrPolicy) -> Outcome:
    given = normalise.clean_name(str(changes.get("given_names", "")), "given_names")
    family = normalise.clean_name(str(changes.get("family_name", "")), "family_name")
    if (record.GivenNames, record.FamilyName) == (given, family):
        return unchanged(f"the ILR already records the name {given} {family}")
    record.GivenNames, record.FamilyName = given, family
    return changed(f"GivenNames and FamilyName set to {given} {family}")


def change_of_address(record: Learner, changes: dict[str, Any], _: IlrPolicy) -> Outcome:
    address = changes.get("address")
    if not isinstance(address, dict) or not isinstance(address.get("lines"), list):
        raise ChangeRejectedError("the change has no address with lines and a postcode")
    lines = [normalise.clean_address_line(str(line)) for line in address["lines"]]
    if not 1 <= len(lines) <= 4:
        raise ChangeRejectedError("an address has 1 to 4 lines")
    postcode = normalise.clean_postcode(str(address.get("postcode", "")))
    new_lines = [*lines, *[None] * (4 - len(lines))]
    old = ([getattr(record, f) for f in ADDRESS_FIELDS], record.Postcode)
    if old == (new_lines, postcode):
        return unchanged("the ILR already records this address")
    for field, line in zip(ADDRESS_FIELDS, new_lines, strict=True):
        setattr(record, field, line)
    record.Postcode = postcode
    return changed(f"address set to {', '.join(lines)}, {postcode}; PostcodePrior kept")


def change_of_contact_details(record: Learner, changes: dict[str, Any], _: IlrPolicy) -> Outcome:
    updates: dict[str, str] = {}
    if changes.get("email") is not None:
        updates["Email"] = normalise.clean_email(str(changes["email"]))
    if changes.get("phone") is not None:
        updates["TelNo"] = normalise.clean_phone(str(changes["phone"]))
    if not updates:
        return unchanged("the change gives neither an email nor a phone number")
    differing = {k: v for k, v in updates.items() if getattr(record, k) != v}
    if not differing:
        return unchanged("the ILR already records these contact details")
    for field, value in differing.items():
        setattr(record, field, value)
    return changed("; ".join(f"{k} set to {v}" for k, v in differing.items()))
