"""The audit service's rules, free of I/O: what an entry is, how entries are chained and verified,
how duplicates are flagged, how queries, exports and timelines are built.
"""

from ilrflow.audit.domain.chain import GENESIS_HASH, canonical_bytes, chain, entry_hash
from ilrflow.audit.domain.duplicates import DeliveryDecision, decide_delivery, with_delivery
from ilrflow.audit.domain.export import export_csv, export_xlsx
from ilrflow.audit.domain.ingest import entry_from_record
from ilrflow.audit.domain.query import AuditPage, AuditQuery
from ilrflow.audit.domain.records import AuditEntry, DeadLetterInfo, RecordCoordinates
from ilrflow.audit.domain.summary import describe
from ilrflow.audit.domain.timeline import TimelineLine, learner_timeline
from ilrflow.audit.domain.verify import (
    AuditVerification,
    ChainProblem,
    ChainTail,
    VerifyReport,
    verify_all,
    verify_chain,
)

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditPage",
    "AuditQuery",
    "AuditVerification",
    "ChainProblem",
    "ChainTail",
    "DeadLetterInfo",
    "DeliveryDecision",
    "RecordCoordinates",
    "TimelineLine",
    "VerifyReport",
    "canonical_bytes",
    "chain",
    "decide_delivery",
    "describe",
    "entry_from_record",
    "entry_hash",
    "export_csv",
    "export_xlsx",
    "learner_timeline",
    "verify_all",
    "verify_chain",
    "with_delivery",
]
