"""URLs of round_urls (included by testing/urls.py under the testing namespace): mass-testing rounds."""

from django.urls import path

from . import round_views

urlpatterns = [
    path("rounds/", round_views.round_list, name="rounds"),
    path("rounds/<int:pk>/", round_views.round_detail, name="round"),
    path("rounds/<int:pk>/missing/", round_views.round_missing, name="round_missing"),
    path("rounds/<int:pk>/exempt/", round_views.round_exempt, name="round_exempt"),
    path("rounds/<int:pk>/close/", round_views.round_close, name="round_close"),
]
