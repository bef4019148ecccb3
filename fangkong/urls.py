from django.contrib import admin
from django.urls import include, path

from fangkong import views
from fangkong.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("fangkong.accounts.urls")),
    path("areas/", include("fangkong.areas.urls")),
    path("people/", include("fangkong.people.urls")),
    path("tasks/", include("fangkong.tasks.urls")),
    path("policy/", include("fangkong.policy.urls")),
    path("declarations/", include("fangkong.declarations.urls")),
    path("declare/", include("fangkong.declarations.public_urls")),
    path("venues/compliance/", include("fangkong.venues.compliance_urls")),
    path("venues/", include("fangkong.venues.urls")),
    path("scan/", include("fangkong.venues.scan_urls")),
    path("tracing/", include("fangkong.tracing.urls")),
    path("testing/", include("fangkong.testing.urls")),
    path("quarantine/", include("fangkong.quarantine.urls")),
    path("q/", include("fangkong.quarantine.public_urls")),
    path("sentinels/", include("fangkong.sentinels.urls")),
    path("warning/", include("fangkong.warning.urls")),
    path("audit/", include("fangkong.audit.urls")),
    path("jobs/", include("fangkong.core.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
