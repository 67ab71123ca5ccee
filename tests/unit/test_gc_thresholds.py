"""The collector's thresholds: the service's own unless GGZY_GC_THRESHOLDS says more."""

from __future__ import annotations

import pytest

from ggzy.runtime.service import collector_thresholds


def test_the_services_default_unless_the_setting_names_others() -> None:
    assert collector_thresholds("", (50_000, 10, 10)) == (50_000, 10, 10)
    assert collector_thresholds("", None) is None
    assert collector_thresholds("1000, 20, 30", (50_000, 10, 10)) == (1000, 20, 30)
    assert collector_thresholds("python", (50_000, 10, 10)) is None


@pytest.mark.parametrize("bad", ["50000", "a,b,c", "0,10,10", "1,2,3,4"])
def test_a_bad_setting_is_refused_with_what_it_should_be(bad: str) -> None:
    with pytest.raises(ValueError, match="GGZY_GC_THRESHOLDS"):
        collector_thresholds(bad, None)
