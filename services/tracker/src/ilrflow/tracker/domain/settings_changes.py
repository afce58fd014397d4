"""What a change of a tenant's tracker settings changed, setting by setting, for the audit log."""

from __future__ import annotations

from typing import Any

from ilrflow.contracts.events import SettingChange


def settings_changes(before: dict[str, Any], after: dict[str, Any]) -> list[SettingChange]:
    """Every setting that differs, by dotted path, in path order. Objects are compared key by
    key; a list (roles, reasons) is one setting, shown whole before and after."""
    return sorted(_differences(before, after, ""), key=lambda change: change.path)


def _differences(before: Any, after: Any, path: str) -> list[SettingChange]:
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[SettingChange] = []
        for key in before.keys() | after.keys():
            found += _differences(before.get(key), after.get(key), f"{path}{key}.")
        return found
    if before == after:
        return []
    return [SettingChange(path=path.rstrip("."), before=before, after=after)]
