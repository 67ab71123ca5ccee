"""A project code (项目代码) names one project for its whole life: its first tender fixes
the tenderee and the region that every later tender under it must have."""

from __future__ import annotations

from typing import Any

import pytest

from ggzy.runtime.errors import Conflict, DomainError
from ggzy.testing.data import new_uscc
from services.bidding.api import to_event
from services.bidding.domain import tender
from tests.unit.test_evaluation_schedule import _body

OTHER = new_uscc()


def _event() -> Any:
    return to_event(_body(), "城投")


def _check(project: dict[str, Any], event: Any, owner: str | None = None) -> None:
    tender.check_project(project, code=event.project_code,
                         owner=owner or event.tenderee_uscc, region=event.region_code)


def test_the_first_tender_fixes_the_projects_tenderee_and_region() -> None:
    first = _event()
    project = tender.project_record(owner=first.tenderee_uscc, region=first.region_code,
                                    name=first.project_name, first_id=first.tender_id)
    assert project == {"tenderee_uscc": first.tenderee_uscc, "region_code": first.region_code,
                       "project_name": first.project_name, "first_tender_id": first.tender_id}
    _check(project, first)  # its own
    later: Any = first.model_copy(update={"tender_id": first.project_code + "002"})
    _check(project, later)  # the same project's next tender
    with pytest.raises(Conflict) as err:
        _check({**project, "tenderee_uscc": OTHER}, later)
    assert err.value.code == "project_of_another_tenderee"
    assert err.value.details["first_tender_id"] == first.tender_id
    with pytest.raises(DomainError) as bad:
        _check({**project, "region_code": "110101"}, later)
    assert bad.value.code == "project_region_mismatch"
    assert bad.value.details["region_code"] == "110101"


def test_a_sale_under_a_tendered_projects_code_is_its_owners_only() -> None:
    """A sale (拍卖/挂牌) names its lot by the same project code: another seller's sale
    under a code a tender fixed is refused, as a tender would be."""
    first = _event()
    project = tender.project_record(owner=first.tenderee_uscc, region=first.region_code,
                                    name=first.project_name, first_id=first.tender_id)
    with pytest.raises(Conflict) as err:
        _check(project, first, owner=OTHER)
    assert err.value.code == "project_of_another_tenderee"
