from django.urls import path

from . import board_views, views, zone_views

app_name = "tracing"

urlpatterns = [
    path("", board_views.board, name="board"),
    # cases, trajectories, contacts
    path("cases/", views.case_list, name="cases"),
    path("cases/new/", views.case_new, name="case_new"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/edit/", views.case_edit, name="case_edit"),
    path("cases/<int:pk>/trajectory/", views.case_trajectory, name="trajectory"),
    path("cases/<int:pk>/entries/new/", views.entry_new, name="entry_new"),
    path("entries/<int:pk>/delete/", views.entry_delete, name="entry_delete"),
    path("cases/<int:pk>/trace/", views.case_trace, name="trace"),
    path("cases/<int:pk>/contacts/", views.contact_list, name="contacts"),
    path("cases/<int:pk>/contacts/add/", views.contact_add, name="contact_add"),
    path("cases/<int:pk>/dispatch/", views.case_dispatch, name="dispatch"),
    path("cases/<int:pk>/transfers.xlsx", views.transfers_export, name="transfers_export"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact"),
    path("contacts/<int:pk>/review/", views.contact_review, name="contact_review"),
    path("contacts/<int:pk>/withdraw/", views.contact_withdraw, name="contact_withdraw"),
    # control zones
    path("zones/", zone_views.zone_list, name="zones"),
    path("zones/propose/", zone_views.zone_propose, name="zones_propose"),
    path("zones/new/", zone_views.zone_new, name="zone_new"),
    path("zones/<int:pk>/", zone_views.zone_detail, name="zone"),
    path("zones/<int:pk>/edit/", zone_views.zone_edit, name="zone_edit"),
    path("zones/<int:pk>/publish/", zone_views.zone_publish, name="zone_publish"),
    path("zones/<int:pk>/lift/", zone_views.zone_lift, name="zone_lift"),
    path("zones/<int:pk>/rounds/", zone_views.zone_round, name="zone_round"),
    # clusters and chains
    path("clusters/", board_views.cluster_list, name="clusters"),
    path("clusters/<int:pk>/", board_views.cluster_detail, name="cluster"),
]
