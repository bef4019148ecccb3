from django.urls import path

from . import compliance_views as views

app_name = "compliance"
urlpatterns = [
    path("", views.compliance_index, name="index"),
    path("export.xlsx", views.compliance_export, name="export"),
    path("flag", views.compliance_flag, name="flag"),
]
