"""Pages for people under a measure, reached by a signed link on their phone (no login)."""

from django.urls import path

from . import public_views

# Included at /q/ without a namespace: the names carry the app's prefix.
urlpatterns = [
    path("check/<str:token>/", public_views.self_check, name="quarantine_self_check"),
]
