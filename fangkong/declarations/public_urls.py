"""The returnee's pages, public (no account). No URL carries a receipt: the session proves it."""

from django.urls import path

from . import public_views as views

app_name = "declare"
urlpatterns = [
    path("", views.declare, name="form"),
    path("receipt/", views.receipt, name="receipt"),
    path("status/", views.status, name="status"),
    path("edit/", views.edit, name="edit"),
    path("poster/", views.poster, name="poster"),
    path("places.json", views.place_tree, name="places"),
]
