"""A deemed-collusion finding (围标串标), the article of each indicator, its alert id. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.credit import RiskIndicator

ARTICLES: Mapping[RiskIndicator, str] = {
    RiskIndicator.SAME_DOCUMENT: "条例40(一)",
    RiskIndicator.SAME_MACHINE: "条例40(一)",
    RiskIndicator.SAME_UPLOAD_IP: "条例40(二)",
    RiskIndicator.SAME_UPLOAD_MAC: "条例40(二)",
    RiskIndicator.SAME_AGENT: "条例40(二)",
    RiskIndicator.SAME_CONTACT: "87号令37",
    RiskIndicator.SAME_PROJECT_MANAGER: "条例40(三)",
    RiskIndicator.SAME_DEPOSIT_ACCOUNT: "条例40(六)",
    RiskIndicator.PRICE_PATTERN: "条例40(四)",
    RiskIndicator.MIXED_DOCUMENTS: "条例40(五)",
    RiskIndicator.RELATED_ENTITIES: "条例34",
}


@dataclass(frozen=True)
class Finding:
    """One deemed-collusion finding: an indicator, its article, the bidders, the evidence."""

    indicator: RiskIndicator
    article: str
    bidders: tuple[str, ...]
    evidence: dict[str, Any]


def finding_id(tender_id: str, section_code: str, finding: Finding) -> str:
    """A deterministic alert id: the SHA-256 of the section, indicator, bidders and evidence."""
    payload = {"tender_id": tender_id, "section_code": section_code,
               "indicator": str(finding.indicator), "article": finding.article,
               "bidders": list(finding.bidders), "evidence": finding.evidence}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
