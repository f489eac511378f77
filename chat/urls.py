from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="index"),
    path("dm/<str:username>/", views.direct_page, name="direct"),
    # Before "<slug>/": no room has the address "search" (chat.access.RESERVED_SLUGS).
    path("search/", views.search_page, name="search"),
    path("<slug:slug>/", views.room_page, name="room"),
    path("<slug:slug>/members/", views.room_members, name="members"),
]
