"""The deemed-collusion check of one section at opening (视为串通投标, 围标串标). Pure.

Responsible for turning a section's bid fingerprints and its bidders'
registration snapshots into findings, each naming the indicator, its article,
the bidders (two or more different ones) and the evidence:

- same document digest or maker machine serial: 条例40(一) (prepared by one unit);
- same upload IP or MAC, same entrusted agent: 条例40(二); same contact person: 87号令37;
- same project manager: 条例40(三); deposits from one account: 条例40(六);
- prices in a regular pattern or abnormally close: 条例40(四) (:func:`price_findings`);
- a file of one bid's package in another's (相互混装, same part digest): 条例40(五);
  bidding has left out the tender documents' own files, which any bid may include;
- related entities (same legal representative, control): 条例34 (政采条例18).

Every check groups by key in a dict (O(n)); prices are sorted once
(O(n log n)). No pair of bids is ever compared directly. Money is integer fen,
ratios are exact (integer cross-multiplication; Decimal only in the evidence).

Callers use this package (``collusion.check_columns``, ``collusion.finding_id``): it
names what its modules offer, each module importing only those before it here:

- ``findings``: a finding, the article of each indicator, the alert id (imports no other);
- ``config``: the thresholds, as data (imports no other);
- ``normalise``: the normal forms of fingerprint values (imports no other);
- ``shared``: bids sharing a value of a single- or multi-valued field;
- ``runs``: runs of sorted prices: equal differences, equal ratios, closeness (no other);
- ``chance``: how likely chance alone makes a run;
- ``prices``: the price findings (条例40(四));
- ``related``: related entities (条例34);
- ``check``: the check of one section, every finding in a stable order.
"""

from services.credit.domain.collusion.chance import Chance, _erlang_cdf, _erlang_cdf_large
from services.credit.domain.collusion.check import _sort_key, check_columns, check_section
from services.credit.domain.collusion.config import CollusionConfig
from services.credit.domain.collusion.findings import ARTICLES, Finding, finding_id
from services.credit.domain.collusion.normalise import (
    _account,
    _compact,
    _gathered,
    _lower,
    _mac,
    _serial,
    _spaced,
)
from services.credit.domain.collusion.prices import _price_order, _price_runs, price_findings
from services.credit.domain.collusion.related import related_findings
from services.credit.domain.collusion.runs import (
    _close_groups,
    _equal_difference_runs,
    _equal_ratio_runs,
)
from services.credit.domain.collusion.shared import _MULTI_VALUED, _SINGLE_VALUED

# the public names, and (underscored) the helpers the unit tests check by themselves
__all__ = [
    "ARTICLES", "_MULTI_VALUED", "_SINGLE_VALUED", "Chance", "CollusionConfig", "Finding",
    "_account", "_close_groups", "_compact", "_equal_difference_runs", "_equal_ratio_runs",
    "_erlang_cdf", "_erlang_cdf_large", "_gathered", "_lower", "_mac", "_price_order",
    "_price_runs", "_serial", "_sort_key", "_spaced", "check_columns", "check_section",
    "finding_id", "price_findings", "related_findings",
]
