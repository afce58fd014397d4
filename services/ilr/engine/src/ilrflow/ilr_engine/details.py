"""Learner-led changes: name, address, contact details (domain.md §3.2, §3.7 first rows).

The ILR keeps no history of learner fields, so these update in place; the audit service keeps
the before and after. PostcodePrior is never touched by a change of address [D7].
"""

from __future__ import annotations

from ilrflow.contracts.trackers import ChangeOfAddress, ChangeOfContactDetails, ChangeOfName
from ilrflow.ilr_engine import normalise
from ilrflow.ilr_engine.policy import IlrPolicy, Outcome, changed, unchanged
from ilrflow.ilr_engine.records import Learner

ADDRESS_FIELDS = ("AddLine1", "AddLine2", "AddLine3", "AddLine4")


def change_of_name(record: Learner, changes: ChangeOfName, _: IlrPolicy) -> Outcome:
    given = normalise.clean_name(changes.given_names, "given_names")
    family = normalise.clean_name(changes.family_name, "family_name")
    if (record.GivenNames, record.FamilyName) == (given, family):
        return unchanged(f"the ILR already records the name {given} {family}")
    record.GivenNames, record.FamilyName = given, family
    return changed(f"GivenNames and FamilyName set to {given} {family}")


def change_of_address(record: Learner, changes: ChangeOfAddress, _: IlrPolicy) -> Outcome:
    lines = [normalise.clean_address_line(line) for line in changes.address.lines]
    postcode = normalise.clean_postcode(changes.address.postcode)
    new_lines = [*lines, *[None] * (4 - len(lines))]
    old = ([getattr(record, f) for f in ADDRESS_FIELDS], record.Postcode)
    if old == (new_lines, postcode):
        return unchanged("the ILR already records this address")
    for field, line in zip(ADDRESS_FIELDS, new_lines, strict=True):
        setattr(record, field, line)
    record.Postcode = postcode
    return changed(f"address set to {', '.join(lines)}, {postcode}; PostcodePrior kept")


def change_of_contact_details(
    record: Learner, changes: ChangeOfContactDetails, _: IlrPolicy
) -> Outcome:
    updates = {"Email": normalise.clean_email(changes.email)}
    if changes.phone is not None:
        updates["TelNo"] = normalise.clean_phone(changes.phone)
    differing = {k: v for k, v in updates.items() if getattr(record, k) != v}
    if not differing:
        return unchanged("the ILR already records these contact details")
    for field, value in differing.items():
        setattr(record, field, value)
    return changed("; ".join(f"{k} set to {v}" for k, v in differing.items()))
