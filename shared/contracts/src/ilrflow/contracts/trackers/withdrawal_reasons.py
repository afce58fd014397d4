"""ESFA WithdrawReason codes and how a tenant's own wording maps onto them (``domain.md`` §3.5).

Tenants report on their own reasons ('Moved out of area') while the ILR needs the ESFA code, as in
Aptem's configurable withdrawal reasons. A request may give either the tenant's reason or the ESFA
code itself.
"""

from __future__ import annotations

from collections.abc import Mapping

ESFA_WITHDRAW_REASONS: dict[int, str] = {
    2: "Learner has transferred to another provider",
    3: "Learner injury / illness",
    7: "Learner has transferred between providers due to intervention by or with the agreement of "
    "the ESFA",
    28: "OLASS learner withdrawn due to circumstances outside the provider's control",
    29: "Learner has been made redundant",
    40: "Learner has transferred to a new learning aim with the same provider",
    41: "Learner has transferred to another provider to undertake learning that meets a specific "
    "government strategy",
    42: "Academic failure/left in bad standing/not permitted to progress (HE only)",
    43: "Financial reasons",
    44: "Other personal reasons",
    45: "Written off after lapse of time (HE only)",
    46: "Exclusion",
    47: "Learner has transferred as part of a merger",
    48: "Industry placement learner has withdrawn due to circumstances outside the provider's "
    "control",
    97: "Other",
    98: "Reason not known",
}

CHANGE_OF_PROGRAMME_WITHDRAW_REASON = 40


def esfa_code_of(reason: str) -> int | None:
    """The ESFA code when ``reason`` is one ('44', ' 44 '), else None."""
    text = reason.strip()
    if text.isascii() and text.isdigit() and int(text) in ESFA_WITHDRAW_REASONS:
        return int(text)
    return None


def find_tenant_reason(reason: str, mapping: Mapping[str, int]) -> tuple[str, int] | None:
    """The tenant's own spelling of ``reason`` and its ESFA code; matching ignores case."""
    wanted = reason.strip().casefold()
    for local, code in mapping.items():
        if local.strip().casefold() == wanted:
            return local, code
    return None


def unknown_reason_message(mapping: Mapping[str, int] | None) -> str:
    codes = ", ".join(str(code) for code in ESFA_WITHDRAW_REASONS)
    if mapping:
        local = ", ".join(repr(reason) for reason in mapping)
        return f"must be one of the tenant's withdrawal reasons ({local}) or an ESFA code ({codes})"
    return f"must be an ESFA WithdrawReason code ({codes})"
