"""URLs of the point-to-point transfer pages (included by quarantine/urls.py in the quarantine namespace)."""

from django.urls import path

from . import transfer_views

urlpatterns = [
    path("transfers/", transfer_views.transfer_list, name="transfers"),
    path("transfers/new/", transfer_views.transfer_new, name="transfer_new"),
    path("transfers/<int:pk>/", transfer_views.transfer_detail, name="transfer"),
    path("transfers/<int:pk>/depart/", transfer_views.transfer_depart, name="transfer_depart"),
    path("transfers/<int:pk>/arrive/", transfer_views.transfer_arrive, name="transfer_arrive"),
    path("transfers/<int:pk>/acknowledge/", transfer_views.transfer_acknowledge, name="transfer_acknowledge"),
    path("transfers/<int:pk>/cancel/", transfer_views.transfer_cancel, name="transfer_cancel"),
]
