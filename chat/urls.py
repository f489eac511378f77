from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="index"),
    path("dm/<str:username>/", views.direct_page, name="direct"),
    path("<slug:slug>/", views.room_page, name="room"),
    path("<slug:slug>/members/", views.room_members, name="members"),
]
