"""Credit's HTTP API: thin routes, one handler call each.

Anyone may read an entity's level and the restrictions in force (信用查询);
supervisors record and revoke restrictions, read full records, and decide
alerts; supervisors or the tenderee rate experts' evaluations; a tender's parties
file complaints (投诉), which supervisors accept or refuse and decide.

One module of routes per concern, their request models beside them: accounts and
restrictions, repair, expert reviews, collusion, complaints.
"""

from __future__ import annotations

from ggzy.runtime.http import Api
from ggzy.runtime.service import Runtime
from services.credit.api.accounts import account_routes
from services.credit.api.collusion import collusion_routes
from services.credit.api.complaints import complaint_routes
from services.credit.api.repair import repair_routes
from services.credit.api.reviews import review_routes
from services.credit.complaints import Complaints
from services.credit.handlers import Credit


def routes(rt: Runtime, app: Credit, complaints: Complaints) -> Api:
    api = Api("ggzy credit")
    account_routes(api, rt, app)
    repair_routes(api, rt, app)
    review_routes(api, rt, app)
    collusion_routes(api, rt, app)
    complaint_routes(api, rt, complaints)
    return api
