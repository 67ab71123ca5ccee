"""The tender's life (招标项目生命周期) as pure decisions: state in, change and events out.

A tender document holds its published data, ``deadline_ms`` (the durable timer
compares integers), one state per section and the hash-chained audit trail.
Section states: bidding -> decrypting -> evaluating (committee drawn) ->
publicity -> awarded -> contracted; or failed (流标) / awaiting_draw. Each section's
evaluation time and place (``evaluation_schedule``, by section) moves with the deadline
and with a decryption window a suspension moved, and goes to the drawn experts alone.

Callers use this package (``tender.close``, ``tender.section_of``): it names what its
modules offer, each module importing only those before it here:

- ``core``: times, the audited change, the sections, failure and refunds, the suspended
  tender's refusal (imports no other);
- ``schedule``: each section's evaluation time and place, as stated, moved and told;
- ``publication``: the project, the draw seeds, the first state, the documents' sale;
- ``deadline``: the bids the deadline admits, a modification moving it, seal and close;
- ``opening``: the decryption window and its faults, the opening record, the draw;
- ``committee``: the committee's score sheets, a member's replacement, the report;
- ``awarding``: the award and its decline, the contract's terms, signing and lapse.
"""

from ggzy.runtime.aggregates import Change
from services.bidding.domain.tender.awarding import (
    DECLINE_ARTICLE,
    award,
    contract_overdue,
    contract_terms,
    decline_award,
    sign_contract,
)
from services.bidding.domain.tender.committee import record_scores, replace_expert, report
from services.bidding.domain.tender.core import (
    State,
    _change,
    _failed,
    _refund_state,
    iso,
    ms,
    published_section,
    refuse_while_suspended,
    section_of,
)
from services.bidding.domain.tender.deadline import (
    close,
    close_entry,
    modify,
    refuse_after_deadline,
    refuse_uninvited,
    seal,
)
from services.bidding.domain.tender.opening import (
    _LINES,
    DECRYPT_FAULT_ARTICLE,
    DecryptFaultCause,
    _seat,
    awaiting_draw,
    decrypt_faults,
    draw_again,
    fails_at_opening,
    lines_of,
    open_section,
    record_decrypt_fault,
    valid_bidders,
)
from services.bidding.domain.tender.publication import (
    PROJECT_CODE_ARTICLE,
    check_project,
    committed,
    obtain_documents,
    project_record,
    publish,
)
from services.bidding.domain.tender.schedule import (
    SCHEDULE,
    drawn_event,
    evaluation_of,
    evaluation_told,
    shifted_evaluations,
)

__all__ = [
    "DECLINE_ARTICLE", "DECRYPT_FAULT_ARTICLE", "PROJECT_CODE_ARTICLE", "SCHEDULE", "_LINES",
    "Change", "DecryptFaultCause", "State", "_change", "_failed", "_refund_state", "_seat",
    "awaiting_draw", "award", "check_project", "close", "close_entry", "committed",
    "contract_overdue", "contract_terms", "decline_award", "decrypt_faults", "draw_again",
    "drawn_event", "evaluation_of", "evaluation_told", "fails_at_opening", "iso", "lines_of",
    "modify", "ms", "obtain_documents", "open_section", "project_record", "publish",
    "published_section", "record_decrypt_fault", "record_scores", "refuse_after_deadline",
    "refuse_uninvited", "refuse_while_suspended", "replace_expert", "report", "seal",
    "section_of", "shifted_evaluations", "sign_contract", "valid_bidders",
]
