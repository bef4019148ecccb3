from django.urls import path

from . import board_views, views

app_name = "warning"
urlpatterns = [
    path("", views.index, name="index"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert"),
    path("alerts/<int:pk>/verify/", views.alert_verify, name="alert_verify"),
    path("alerts/<int:pk>/respond/", views.alert_respond, name="alert_respond"),
    path("alerts/<int:pk>/close/", views.alert_close, name="alert_close"),
    path("detectors/", views.detectors, name="detectors"),
    path("detectors/<int:pk>/edit/", views.detector_edit, name="detector_edit"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_new, name="rule_new"),
    path("rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("signals/", views.signal_list, name="signals"),
    path("board/", board_views.board_page, name="board"),
]
