from django.urls import path

from . import views

app_name = "venues"
urlpatterns = [
    path("", views.venue_list, name="list"),
    path("new/", views.venue_create, name="create"),
    path("export/", views.venue_export, name="export"),
    path("import/", views.venue_import, name="import"),
    path("import/template/", views.venue_import_template, name="import_template"),
    path("posters.pdf", views.area_posters, name="area_posters"),
    path("posters/", views.area_posters_print, name="area_posters_print"),
    path("<int:pk>/", views.venue_detail, name="detail"),
    path("<int:pk>/edit/", views.venue_edit, name="edit"),
    path("<int:pk>/reissue/", views.venue_reissue, name="reissue"),
    path("<int:pk>/poster.pdf", views.venue_poster, name="poster"),
    path("<int:pk>/poster/", views.venue_poster_print, name="poster_print"),
]
