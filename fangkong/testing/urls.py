from django.urls import path

from . import views

app_name = "testing"
urlpatterns = [
    path("", views.index, name="index"),
    path("points/new/", views.point_new, name="point_new"),
    path("sessions/new/", views.session_new, name="session_new"),
    path("sessions/<int:pk>/", views.session, name="session"),
    path("sessions/<int:pk>/scan/", views.session_scan, name="session_scan"),
    path("sessions/<int:pk>/seal/", views.session_seal, name="session_seal"),
    path("sessions/<int:pk>/close/", views.session_close, name="session_close"),
    path("results/upload/", views.results_upload, name="results_upload"),
    path("results/unmatched/", views.unmatched, name="unmatched"),
    path("tubes/<int:pk>/", views.tube, name="tube"),
]

# Key-group schedules and mass-testing rounds keep their own URL lists.
from .keygroup_urls import urlpatterns as keygroup_patterns  # noqa: E402
from .round_urls import urlpatterns as round_patterns  # noqa: E402

urlpatterns += keygroup_patterns + round_patterns
