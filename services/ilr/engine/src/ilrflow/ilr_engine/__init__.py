"""The ILR engine's pure domain: records, tracker rules, funding arithmetic and the XML export.

No I/O. The tracker service (preview) and the ILR service (application, export) call the same
functions. Rules and sources: /work/shared/handbook/domain.md §3 (the ILR) and §4 (funding
rules); the choices made where the sources leave room are in this package's README.md.
"""

from ilrflow.contracts.trackers.fields import uln_is_valid
from ilrflow.ilr_engine.apply import apply_tracker
from ilrflow.ilr_engine.enrolment import learner_from_enrolment
from ilrflow.ilr_engine.export import export_message
from ilrflow.ilr_engine.patch import JsonPatch, apply_patch, json_patch
from ilrflow.ilr_engine.policy import ApplyResult, IlrPolicy, TrackerApplication
from ilrflow.ilr_engine.preview import preview
from ilrflow.ilr_engine.records import (
    APPLIED_TRACKERS_KEY,
    IlrLearner,
    published,
    published_patch,
)

__all__ = [
    "APPLIED_TRACKERS_KEY",
    "ApplyResult",
    "IlrLearner",
    "IlrPolicy",
    "JsonPatch",
    "TrackerApplication",
    "apply_patch",
    "apply_tracker",
    "export_message",
    "json_patch",
    "learner_from_enrolment",
    "preview",
    "published",
    "published_patch",
    "uln_is_valid",
]
