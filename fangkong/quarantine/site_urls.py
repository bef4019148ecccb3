"""URLs of the site pages (included by quarantine/urls.py in the quarantine namespace)."""

from django.urls import path

from . import site_views

urlpatterns = [
    path("sites/", site_views.site_list, name="sites"),
    path("sites/new/", site_views.site_new, name="site_new"),
    path("sites/<int:pk>/", site_views.site_detail, name="site"),
    path("sites/<int:pk>/check-in/", site_views.site_check_in, name="site_check_in"),
    path("stays/<int:pk>/check-out/", site_views.stay_check_out, name="stay_check_out"),
    path("stays/<int:pk>/room-sample/", site_views.stay_room_sample, name="stay_room_sample"),
    path("rooms/<int:pk>/service/", site_views.room_service, name="room_service"),
    path("occupancy/", site_views.occupancy_board, name="occupancy"),
]
