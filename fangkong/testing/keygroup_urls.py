"""URLs of keygroup_urls (included by testing/urls.py under the testing namespace)."""

from django.urls import path

from . import keygroup_views as views

urlpatterns = [
    path("key-groups/", views.group_list, name="keygroups"),
    path("key-groups/import-template/", views.import_template, name="keygroup_import_template"),
    path("key-groups/<int:pk>/", views.group_detail, name="keygroup"),
    path("key-groups/<int:pk>/overdue.xlsx", views.overdue_export, name="keygroup_overdue_export"),
    path("key-groups/<int:pk>/tasks/", views.overdue_tasks, name="keygroup_tasks"),
    path("key-groups/<int:pk>/import/", views.roster_import, name="keygroup_import"),
    path("key-groups/<int:pk>/edit/", views.group_edit, name="keygroup_edit"),
]
