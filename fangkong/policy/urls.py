from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "policy"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="policy:risk_areas")),
    path("risk-areas/", views.risk_area_list, name="risk_areas"),
    path("risk-areas/new/", views.risk_area_create, name="risk_area_create"),
    path("risk-areas/export/", views.risk_area_export, name="risk_area_export"),
    path("risk-areas/import/", views.risk_area_import, name="risk_area_import"),
    path("risk-areas/import/template/", views.risk_area_template, name="risk_area_template"),
    path("risk-areas/places/", views.place_tree, name="place_tree"),
    path("risk-areas/<int:pk>/", views.risk_area_detail, name="risk_area_detail"),
    path("risk-areas/<int:pk>/edit/", views.risk_area_edit, name="risk_area_edit"),
    path("risk-areas/<int:pk>/lift/", views.risk_area_lift, name="risk_area_lift"),
    path("packs/", views.pack_list, name="packs"),
    path("packs/<int:pk>/", views.pack_detail, name="pack_detail"),
    path("packs/<int:pk>/copy/", views.pack_copy, name="pack_copy"),
    path("packs/<int:pk>/activate/", views.pack_activate, name="pack_activate"),
    path("packs/<int:pk>/tracing-rules/", views.tracing_rules_edit, name="tracing_rules_edit"),
    path("packs/<int:pk>/scan-rules/", views.scan_rules_edit, name="scan_rules_edit"),
    path("rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
]
