"""Message templates: a subject, a plain-text body and an HTML body per rule.

Every value substituted into HTML is escaped, values in the text body are used as they are, and
the subject is folded onto one line (a name with a line break must not add an email header).
Bodies name the tracker type and the learner but never the changed values: email is not the place
for someone's new address.
"""

from __future__ import annotations

import html
from string import Template
from typing import NamedTuple


class Message(NamedTuple):
    subject: str
    body_text: str
    body_html: str


class MessageTemplate(NamedTuple):
    subject: Template
    text: Template
    html: Template

    def render(self, **values: str) -> Message:
        escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
        return Message(
            subject=" ".join(self.subject.substitute(values).split()),
            body_text=self.text.substitute(values),
            body_html=_HTML_PAGE.substitute(body=self.html.substitute(escaped)),
        )


_HTML_PAGE = Template("<!doctype html>\n<html><body>\n$body\n</body></html>\n")
_SIGN_OFF_TEXT = "\n\nThis is an automatic message from ilrflow."
_SIGN_OFF_HTML = "<p><small>This is an automatic message from ilrflow.</small></p>"

TRACKER_AWAITING_ADMIN = MessageTemplate(
    subject=Template("Tracker to process: $tracker_type for $learner"),
    text=Template(
        "$greeting,\n\nA $tracker_type tracker ($tracker_id) for $learner $why.\n"
        "Please review and process or reject it." + _SIGN_OFF_TEXT
    ),
    html=Template(
        "<p>$greeting,</p>\n<p>A $tracker_type tracker (<code>$tracker_id</code>) for "
        "<strong>$learner</strong> $why.</p>\n<p>Please review and process or reject it.</p>\n"
        + _SIGN_OFF_HTML
    ),
)

TRACKER_PROCESSED_FOR_TUTOR = MessageTemplate(
    subject=Template("Processed: $tracker_type for $learner"),
    text=Template(
        "$greeting,\n\nThe $tracker_type tracker ($tracker_id) for your learner $learner was "
        "processed by $processed_by. Their record and ILR are being updated." + _SIGN_OFF_TEXT
    ),
    html=Template(
        "<p>$greeting,</p>\n<p>The $tracker_type tracker (<code>$tracker_id</code>) for your "
        "learner <strong>$learner</strong> was processed by $processed_by. Their record and ILR "
        "are being updated.</p>\n" + _SIGN_OFF_HTML
    ),
)

TRACKER_RESULT_FOR_LEARNER = MessageTemplate(
    subject=Template("Your $tracker_type request has been processed"),
    text=Template(
        "$greeting,\n\nYour $tracker_type request ($tracker_id) has been processed and your "
        "record is being updated." + _SIGN_OFF_TEXT
    ),
    html=Template(
        "<p>$greeting,</p>\n<p>Your $tracker_type request (<code>$tracker_id</code>) has been "
        "processed and your record is being updated.</p>\n" + _SIGN_OFF_HTML
    ),
)

TRACKER_REJECTED_FOR_RAISER = MessageTemplate(
    subject=Template("Rejected: $tracker_type for $learner"),
    text=Template(
        "$greeting,\n\nThe $tracker_type tracker ($tracker_id) you raised for $learner was "
        "rejected by $rejected_by.\n\nReason: $reason" + _SIGN_OFF_TEXT
    ),
    html=Template(
        "<p>$greeting,</p>\n<p>The $tracker_type tracker (<code>$tracker_id</code>) you raised "
        "for <strong>$learner</strong> was rejected by $rejected_by.</p>\n"
        '<p>Reason:</p>\n<blockquote style="white-space: pre-line">$reason</blockquote>\n'
        + _SIGN_OFF_HTML
    ),
)

DOCUMENT_AWAITS_SIGNATURE_FOR_TUTOR = MessageTemplate(
    subject=Template("To sign: $title $document_id for $learner"),
    text=Template(
        "$greeting,\n\nProcessing tracker $tracker_id changed the $title of your learner "
        "$learner ($changed). The new version, $document_id, awaits signature by the learner "
        "and the employer." + _SIGN_OFF_TEXT
    ),
    html=Template(
        "<p>$greeting,</p>\n<p>Processing tracker <code>$tracker_id</code> changed the $title "
        "of your learner <strong>$learner</strong> ($changed). The new version, "
        "<code>$document_id</code>, awaits signature by the learner and the employer.</p>\n"
        + _SIGN_OFF_HTML
    ),
)


def greeting(name: str | None) -> str:
    return f"Hello {name}" if name else "Hello"


def tracker_type_words(tracker_type: str) -> str:
    """``change_of_address`` -> ``change of address``."""
    return tracker_type.replace("_", " ")


TRACKER_CANCELLED = MessageTemplate(
    subject=Template("Cancelled: $tracker_type for $learner"),
    text=Template(
        "$greeting,\n\nThe $tracker_type tracker ($tracker_id) for $learner was cancelled by "
        "$cancelled_by. $what\n\nReason: $reason" + _SIGN_OFF_TEXT
    ),
    html=Template(
        "<p>$greeting,</p>\n<p>The $tracker_type tracker (<code>$tracker_id</code>) for "
        "<strong>$learner</strong> was cancelled by $cancelled_by. $what</p>\n"
        '<p>Reason:</p>\n<blockquote style="white-space: pre-line">$reason</blockquote>\n'
        + _SIGN_OFF_HTML
    ),
)
