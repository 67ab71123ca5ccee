"""Notices as Open Contracting Data Standard 1.1 releases (OCDS 开放合同数据标准). Pure.

Every published notice is one release of its tender's contracting process
(``ocid`` = prefix + tender project code); the notice's fields map as follows:

| notice | tag | what it fills |
|---|---|---|
| tender (招标/采购公告) | tender | tender, lots, tenderPeriod, buyer, procuringEntity |
| modification (澄清修改) | tenderAmendment | tender.amendments, the new tenderPeriod end |
| opening (开标记录) | tenderUpdate | bids.details (bids extension), tenderers |
| candidates (候选人公示) | award | one pending award per candidate, in rank order |
| result (中标结果) | award | the active award with its supplier and value |
| contract (合同公告) | contract | the active contract, signed date and value |
| failure (流标/终止) | tenderUpdate | tender.status unsuccessful, the lot unsuccessful |
| suspension (暂停公告) | tenderUpdate | tender.statusDetails suspended (OCDS has no such status) |
| resumption (恢复公告) | tenderUpdate | tender.statusDetails resumed, the new tenderPeriod end |
| performance (履约验收) | implementation | an assessment milestone of the contract, met or notMet |

Only the notice's public content is used, so a release never carries more than
the notice. Amounts are the notice's exact yuan strings turned into JSON
numbers, as OCDS requires (exact for any amount below 2^53 fen).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

OCDS_VERSION = "1.1"
CURRENCY = "CNY"
SCHEME = "CN-USCC"  # unified social credit code (统一社会信用代码, GB 32100-2015)
EXTENSIONS = ["https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/"
              "v1.1.5/extension.json",
              "https://raw.githubusercontent.com/open-contracting-extensions/ocds_lots_extension/"
              "v1.1.5/extension.json"]
METHODS = {"open_tender": "open", "invited_tender": "selective",
           "competitive_negotiation": "limited", "competitive_consultation": "limited",
           "inquiry": "limited", "single_source": "direct"}
CRITERIA = {"lowest_evaluated_price": "priceOnly", "comprehensive_scoring": "ratedCriteria"}
CATEGORIES = {"construction": "works"}
BID_STATUS = {"valid": "valid", "revoked": "withdrawn", "withdrawn": "withdrawn",
              "invalid_related": "disqualified", "invalid_record": "disqualified"}
Release = dict[str, Any]


def package(notices: Sequence[Mapping[str, Any]], *, ocid_prefix: str, publisher: str,
            published: str, uri: str, next_uri: str | None = None) -> dict[str, Any]:
    """A release package of ``notices`` (public notice documents), in their order."""
    out: dict[str, Any] = {
        "uri": uri, "version": OCDS_VERSION, "publishedDate": published,
        "publisher": {"name": publisher}, "extensions": EXTENSIONS,
        "releases": [release(n, ocid_prefix) for n in notices]}
    if next_uri:
        out["links"] = {"next": next_uri}
    return out


def release(notice: Mapping[str, Any], ocid_prefix: str) -> Release:
    """One notice as one OCDS release."""
    content = notice["content"]
    base: Release = {
        "ocid": f"{ocid_prefix}-{notice['tender_id']}", "id": notice["id"],
        "date": notice["published_at"], "language": "zh", "initiationType": "tender",
        "tender": {"id": notice["tender_id"]}}
    fill = FILL[notice["notice_type"]]
    fill(base, content, notice)
    return base


def _value(amount: str | None) -> dict[str, Any] | None:
    if amount is None:
        return None
    return {"amount": _number(amount), "currency": CURRENCY}


def _number(amount: str) -> int | float:
    d = Decimal(amount)
    return int(d) if d == d.to_integral_value() else float(d)


def _org(code: str | None, name: str | None, roles: list[str]) -> dict[str, Any]:
    return {"id": f"{SCHEME}-{code}", "name": name or code,
            "identifier": {"scheme": SCHEME, "id": code, "legalName": name or code},
            "roles": roles}


def _tender(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    lots = [{"id": s["BID_SECTION_CODE"], "title": s["BID_SECTION_NAME"], "status": "active",
             "value": _value(s["CONTRACT_RECKON_PRICE"])} for s in c["BID_SECTIONS"]]
    total = sum(Decimal(s["CONTRACT_RECKON_PRICE"]) for s in c["BID_SECTIONS"])
    parties = [_org(c["TENDERER_CODE"], c["TENDERER_NAME"], ["buyer"])]
    if c.get("TENDER_AGENCY_CODE"):
        parties.append(_org(c["TENDER_AGENCY_CODE"], None, ["procuringEntity"]))
    r["tag"] = ["tender"]
    r["parties"] = parties
    r["buyer"] = {"id": parties[0]["id"], "name": parties[0]["name"]}
    r["tender"].update({
        "title": c["TENDER_PROJECT_NAME"], "status": "active", "lots": lots,
        "value": _value(str(total)), "procurementMethod": METHODS.get(c["TENDER_MODE"], "open"),
        "procurementMethodDetails": c["TENDER_MODE"],
        "awardCriteria": CRITERIA.get(c["BID_EVALUATION_METHOD"], "ratedCriteria"),
        "tenderPeriod": {"startDate": c["DOC_GET_START_TIME"],
                         "endDate": c["BID_DOC_REFER_END_TIME"]}})
    category = CATEGORIES.get(notice["category"])
    if category:
        r["tender"]["mainProcurementCategory"] = category


def _amendment(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    r["tag"] = ["tenderAmendment"]
    r["tender"].update({
        "tenderPeriod": {"endDate": c["BID_DOC_REFER_END_TIME"]},
        "amendments": [{"id": notice["id"], "date": c["MODIFY_TIME"],
                        "description": c["NOTICE_CONTENT"],
                        "rationale": c.get("LEGAL_BASIS") or ""}]})


def _opening(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    section = c["BID_SECTION_CODE"]
    bidders = [_org(b["BIDDER_CODE"], b["BIDDER_NAME"], ["tenderer"])
               for b in c["BID_OPEN_RECORDS"]]
    r["tag"] = ["tenderUpdate"]
    r["parties"] = bidders
    r["bids"] = {"details": [
        {"id": f"{notice['tender_id']}-{section}-{i}", "date": c["BID_OPEN_TIME"],
         "status": BID_STATUS.get(b["BID_STATUS"], "disqualified"), "relatedLots": [section],
         "tenderers": [{"id": org["id"], "name": org["name"]}],
         **({"value": _value(b["BID_PRICE"])} if b["BID_PRICE"] is not None else {})}
        for i, (b, org) in enumerate(zip(c["BID_OPEN_RECORDS"], bidders, strict=True), 1)]}


def _candidates(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    section = c["BID_SECTION_CODES"]
    cands = c["WIN_CANDIDATES"]
    r["tag"] = ["award"]
    r["parties"] = [_org(x["BIDDER_CODE"], x["BIDDER_NAME"], ["supplier"]) for x in cands]
    r["awards"] = [{
        "id": f"{notice['tender_id']}-{section}-candidate-{x['WIN_CANDIDATE_ORDER']}",
        "title": f"第{x['WIN_CANDIDATE_ORDER']}中标候选人", "status": "pending",
        "date": c["PUBLICITY_START_TIME"], "relatedLots": [section],
        "value": _value(x["BID_PRICE"]),
        "suppliers": [{"id": org["id"], "name": org["name"]}]}
        for x, org in zip(cands, r["parties"], strict=True)]


def _result(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    section = c["BID_SECTION_CODE"]
    winner = _org(c["WIN_BIDDER_CODE"], c["WIN_BIDDER_NAME"], ["supplier"])
    r["tag"] = ["award"]
    r["parties"] = [winner]
    r["awards"] = [{"id": f"{notice['tender_id']}-{section}", "status": "active",
                    "date": c["WIN_BID_TIME"], "relatedLots": [section],
                    "value": _value(c["WIN_BID_PRICE"]),
                    "suppliers": [{"id": winner["id"], "name": winner["name"]}]}]


def _contract(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    section = c["BID_SECTION_CODE"]
    award_id = f"{notice['tender_id']}-{section}"
    r["tag"] = ["contract"]
    r["contracts"] = [{"id": f"{award_id}-contract", "awardID": award_id, "status": "active",
                       "dateSigned": c["SIGN_TIME"], "value": _value(c["CONTRACT_AMOUNT"])}]


def _failure(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    r["tag"] = ["tenderUpdate"]
    r["tender"].update({"status": "unsuccessful", "statusDetails": c["FAILURE_REASON"],
                        "lots": [{"id": c["BID_SECTION_CODE"], "status": "unsuccessful"}]})


def _suspension(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    r["tag"] = ["tenderUpdate"]
    r["tender"].update({"status": "active", "statusDetails": "suspended"})


def _resumption(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    r["tag"] = ["tenderUpdate"]
    r["tender"].update({"status": "active", "statusDetails": "resumed",
                        "tenderPeriod": {"endDate": c["BID_DOC_REFER_END_TIME"]}})


def _sale(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    """An auction or listing (a sale, not a procurement): its announced terms."""
    seller = _org(c["SELLER_CODE"], c["SELLER_NAME"], ["procuringEntity"])
    r["tag"] = ["tender"]
    r["parties"] = [seller]
    r["tender"].update({
        "title": c["SUBJECT_NAME"], "status": "active", "value": _value(c["START_PRICE"]),
        # a sale by agreement (协议出让) goes to its one named buyer
        "procurementMethod": "direct" if c["TRADE_METHOD"] == "agreement" else "open",
        "procurementMethodDetails": c["TRADE_METHOD"],
        "tenderPeriod": {"startDate": c["BIDDING_START_TIME"],
                         "endDate": c["BIDDING_END_TIME"]}})


def _sale_result(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    if not c["SOLD"]:
        r["tag"] = ["tenderUpdate"]
        r["tender"].update({"status": "unsuccessful", "statusDetails": c["RESULT_REASON"]})
        return
    winner = _org(c["WIN_BIDDER_CODE"], c["WIN_BIDDER_NAME"], ["supplier"])
    r["tag"] = ["award"]
    r["parties"] = [winner]
    r["awards"] = [{"id": notice["tender_id"], "status": "active", "date": c["CLOSE_TIME"],
                    "value": _value(c["DEAL_PRICE"]),
                    "suppliers": [{"id": winner["id"], "name": winner["name"]}]}]


def _sale_lapsed(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    """The award of a sale is cancelled: its winner did not sign the confirmation or the
    contract, or an objection to the result was upheld (the reason says which)."""
    r["tag"] = ["awardUpdate"]
    r["awards"] = [{"id": notice["tender_id"], "status": "cancelled",
                    "statusDetails": c["LAPSE_REASON"]}]


def _sale_contract(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    """A sale's contract signed (出让合同 / 产权交易合同) on its award."""
    award_id = notice["tender_id"]
    r["tag"] = ["contract"]
    r["contracts"] = [{"id": f"{award_id}-contract", "awardID": award_id, "status": "active",
                       "dateSigned": c["SIGN_TIME"], "value": _value(c["CONTRACT_AMOUNT"])}]


def _performance(r: Release, c: Mapping[str, Any], notice: Mapping[str, Any]) -> None:
    """A round of the contract's acceptance (履约验收) as an assessment milestone of its
    implementation: met when every standard was, else notMet."""
    award_id = f"{notice['tender_id']}-{c['BID_SECTION_CODE']}"
    unmet = [i["STANDARD"] for i in c["ACCEPTANCE_ITEMS"] if not i["MET"]]
    r["tag"] = ["implementation"]
    r["contracts"] = [{"id": f"{award_id}-contract", "awardID": award_id, "implementation": {
        "milestones": [{
            "id": f"{award_id}-acceptance-{c['ACCEPTANCE_ROUND']}", "title": "履约验收",
            "type": "assessment", "status": "met" if c["ACCEPTANCE_PASSED"] else "notMet",
            **({"dateMet": c["ACCEPTANCE_TIME"]} if c["ACCEPTANCE_PASSED"] else {}),
            "dateModified": c["ACCEPTANCE_TIME"],
            "description": "；".join(f"未达标：{s}" for s in unmet) or "全部标准均已达到"}]}}]


FILL = {"tender": _tender, "modification": _amendment, "opening": _opening,
        "candidates": _candidates, "result": _result, "contract": _contract,
        "failure": _failure, "auction": _sale, "auction_result": _sale_result,
        "suspension": _suspension, "resumption": _resumption, "sale_lapsed": _sale_lapsed,
        "sale_contract": _sale_contract, "performance": _performance}
