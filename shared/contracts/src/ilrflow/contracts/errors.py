"""The two kinds of failure every consumer tells apart (the platform decides retry or dead-letter).

They live with the contracts because a contract's parser says which of its failures are final: a
record that breaks its contract is permanent, whoever reads it.
"""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help (bad payload, unknown type, broken rule): dead-letter the message."""


class TransientError(Exception):
    """The same work may succeed later (database or broker unavailable): retry with backoff."""
