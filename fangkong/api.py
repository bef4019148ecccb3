"""The REST API at /api/v1/ (django-ninja; OpenAPI generated from the code).

Every endpoint needs a login: a bearer token from POST /api/v1/auth/token,
or the browser's session (with the CSRF token on unsafe methods). The
OpenAPI schema and the docs page (served from local static files, no CDN)
are public.
"""

from django.utils.translation import gettext as _
from ninja import Router
from ninja.openapi.docs import Swagger

from fangkong.accounts.api import BearerTokenAuth, SessionAuth
from fangkong.accounts.api import router as auth_router
from fangkong.areas.api import router as areas_router
from fangkong.audit.api import router as audit_router
from fangkong.core.api import router as jobs_router
from fangkong.core.api_base import FangkongAPI, NotFound
from fangkong.declarations.api import router as declarations_router
from fangkong.declarations.api_public import router as public_declarations_router
from fangkong.people.api import router as people_router
from fangkong.people.register.api import router as register_router
from fangkong.policy.api import router as policy_router
from fangkong.quarantine.api_care import router as care_router
from fangkong.quarantine.api_orders import router as orders_router
from fangkong.quarantine.api_sites import router as sites_router
from fangkong.quarantine.api_transfers import router as transfers_router
from fangkong.sentinels.api import router as sentinels_router
from fangkong.tasks.api import router as tasks_router
from fangkong.testing.api import router as testing_router
from fangkong.testing.api_keygroups import router as keygroups_router
from fangkong.testing.api_rounds import router as rounds_router
from fangkong.tracing.api import router as tracing_router
from fangkong.tracing.api_clusters import router as clusters_router
from fangkong.tracing.api_zones import router as zones_router
from fangkong.venues.api import router as venues_router
from fangkong.venues.api_checkins import router as checkins_router
from fangkong.venues.api_scan import router as scan_router
from fangkong.warning.api import router as warning_router

api = FangkongAPI(
    title="fangkong API",
    version="1",
    description=(
        "防控平台接口。认证：先 POST /api/v1/auth/token 换取令牌，再以 "
        "`Authorization: Bearer <令牌>` 调用；浏览器内也可沿用登录会话（非 GET 请求须带 CSRF 令牌）。"
        '错误一律返回 JSON：`{"code", "message"}`。'
    ),
    urls_namespace="api",
    auth=[BearerTokenAuth(), SessionAuth()],
    # Swagger UI from ninja's bundled static files (ninja is in INSTALLED_APPS); no validator call-out.
    docs=Swagger(settings={"validatorUrl": None}),
)

api.add_router("/auth", auth_router)
api.add_router("/areas", areas_router)
api.add_router("/people", people_router)
api.add_router("/tasks", tasks_router)
api.add_router("/jobs", jobs_router)
api.add_router("/audit", audit_router)
api.add_router("", register_router)
api.add_router("", policy_router)
api.add_router("/declarations", declarations_router)
api.add_router("/public/declarations", public_declarations_router)
# Before /venues: the compliance endpoint lives at /venues/compliance.
api.add_router("", checkins_router)
api.add_router("/venues", venues_router)
api.add_router("/scan", scan_router)
# /cases, /contacts; /control-zones, /clusters
api.add_router("", tracing_router)
api.add_router("", zones_router)
api.add_router("", clusters_router)
api.add_router("", testing_router)
api.add_router("", keygroups_router)
api.add_router("", rounds_router)
# /control-orders, /sites, /transfers, /health-checks
api.add_router("", orders_router)
api.add_router("", sites_router)
api.add_router("", transfers_router)
api.add_router("", care_router)
# /sentinels, /sentinel-reports, /drug-purchases
api.add_router("", sentinels_router)
# /signals, /alerts, /detectors, /series
api.add_router("", warning_router)

# Last, so that it only catches what no endpoint above matched: unknown API paths answer in JSON too.
fallback = Router()


@fallback.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", auth=None, include_in_schema=False
)
def unknown_path(request, rest: str):
    raise NotFound(_("接口不存在。"))


api.add_router("", fallback)
