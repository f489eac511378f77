from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="index"),
    path("<slug:slug>/", views.room_page, name="room"),
]
