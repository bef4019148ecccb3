from django.urls import path

from . import views

app_name = "sentinels"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("purchases/", views.purchases, name="purchases"),
    path("purchases/<int:pk>/", views.purchase, name="purchase"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/zero/", views.zero, name="zero"),
    path("<int:pk>/fever/", views.fever, name="fever"),
    path("<int:pk>/counts/", views.counts, name="counts"),
    path("<int:pk>/absences/", views.absences, name="absences"),
    path("<int:pk>/sale/", views.sale, name="sale"),
]
