from django.urls import path

from . import care_views

urlpatterns = [
    path("care/", care_views.care_list, name="care_list"),
    path("care/<int:order_pk>/", care_views.care_detail, name="care"),
    path("care/<int:order_pk>/check/", care_views.care_check, name="care_check"),
    path("care/<int:order_pk>/visit/", care_views.care_visit, name="care_visit"),
    path("care/<int:order_pk>/member/", care_views.care_member, name="care_member"),
    path("calls/", care_views.calls, name="calls"),
]
