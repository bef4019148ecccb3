from django.urls import path

from . import views
from .register import views as register_views

app_name = "people"
urlpatterns = [
    path("", views.person_list, name="list"),
    path("new/", views.person_create, name="create"),
    path("export/", views.person_export, name="export"),
    path("household-options/", views.household_options, name="household_options"),
    path("duplicates/", views.merge_candidates, name="merge_candidates"),
    path("imports/", register_views.import_list, name="imports"),
    path("imports/<int:pk>/", register_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/commit/", register_views.import_commit, name="import_commit"),
    path("imports/<int:pk>/errors/", register_views.import_errors, name="import_errors"),
    path("merge/", views.merge, name="merge"),
    path("<int:pk>/", views.person_detail, name="detail"),
    path("<int:pk>/edit/", views.person_edit, name="edit"),
    path("<int:pk>/reveal/", views.person_reveal, name="reveal"),
]
