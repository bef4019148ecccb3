from django.urls import path

from . import order_views

app_name = "quarantine"
urlpatterns = [
    path("", order_views.index, name="index"),
    path("orders/<int:pk>/", order_views.order_detail, name="order"),
    path("orders/<int:pk>/advance/", order_views.order_advance, name="order_advance"),
    path("orders/<int:pk>/release/", order_views.order_release, name="order_release"),
    path("orders/<int:pk>/notice/", order_views.order_notice, name="order_notice"),
    path("notices/", order_views.bulk_notices, name="notices"),
    path("census/", order_views.census, name="census"),
]

# Sites, transfers and home care keep their own URL lists.
from .care_urls import urlpatterns as care_patterns  # noqa: E402
from .site_urls import urlpatterns as site_patterns  # noqa: E402
from .transfer_urls import urlpatterns as transfer_patterns  # noqa: E402

urlpatterns += site_patterns + transfer_patterns + care_patterns
