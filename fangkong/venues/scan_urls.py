from django.urls import path

from . import scan_views

app_name = "scan"
urlpatterns = [
    path("", scan_views.scan_page, name="scan"),
    path("me/", scan_views.person_code_page, name="person_code"),
]
