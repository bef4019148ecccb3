from django.urls import path

from . import views

app_name = "declarations"
urlpatterns = [
    path("", views.declaration_list, name="list"),
    path("export/", views.declaration_export, name="export"),
    path("<int:pk>/", views.declaration_detail, name="detail"),
    path("<int:pk>/arrive/", views.declaration_arrive, name="arrive"),
    path("<int:pk>/first-test/", views.declaration_first_test, name="first_test"),
    path("<int:pk>/not-arrived/", views.declaration_not_arrived, name="not_arrived"),
    path("checkpoint/", views.checkpoint, name="checkpoint"),
    path("places/", views.place_options, name="place_options"),
    path("checkpoints/", views.checkpoint_list, name="checkpoint_list"),
    path("checkpoints/new/", views.checkpoint_create, name="checkpoint_create"),
    path("checkpoints/<int:pk>/edit/", views.checkpoint_edit, name="checkpoint_edit"),
    path("checkpoints/<int:pk>/toggle/", views.checkpoint_toggle, name="checkpoint_toggle"),
]
