"""Valid national codes and sample records for tests, demos and benchmarks."""

from __future__ import annotations

import random
import string
from typing import Any

from contracts.codes import resident_id_with_check, uscc_with_check

_BODY = string.digits + "ABCDEFGHJKLMNPQRTUWXY"


def new_uscc(rng: random.Random | None = None, region: str = "440300") -> str:
    """A random valid unified social credit code of an enterprise (91...)."""
    rng = rng or random.Random()
    while True:  # the org check may be "X" (allowed) or land outside the charset: retry
        org_body = "".join(rng.choice(_BODY) for _ in range(8))
        code = uscc_with_check("91" + region, org_body)
        if all(c in _BODY for c in code):
            return code


def new_resident_id(rng: random.Random | None = None, region: str = "110105") -> str:
    """A random valid resident id number (GB 11643) born between 1960 and 1999."""
    rng = rng or random.Random()
    birth = f"{rng.randint(1960, 1999)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return resident_id_with_check(region + birth + f"{rng.randint(0, 999):03d}")


def entity_registration(uscc: str, *, name: str = "示例建设集团有限公司",
                        kinds: tuple[str, ...] = ("bidder",), legal_id: str | None = None,
                        controlled_by: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON body registering an entity."""
    return {
        "uscc": uscc, "name": name, "kinds": list(kinds), "legal_representative": "张三",
        "legal_representative_id": legal_id or new_resident_id(), "region_code": "440300",
        "controlled_by": list(controlled_by),
        "contacts": [{"name": "李四", "phone": "0755-12345678", "email": "li@example.cn"}],
        "qualifications": [{"name": "建筑工程施工总承包", "level": "一级",
                            "certificate_no": "D144000001"}],
    }
