from django.urls import path

from chat import views
from chat.attachments import views as files

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="index"),
    path("dm/<str:username>/", views.direct_page, name="direct"),
    # Before "<slug>/": no room has the address "search" (chat.access.RESERVED_SLUGS).
    path("search/", views.search_page, name="search"),
    path("files/<int:attachment_id>/", files.attachment, name="attachment"),
    path("files/<int:attachment_id>/thumbnail/", files.thumbnail, name="attachment_thumbnail"),
    path("<slug:slug>/", views.room_page, name="room"),
    path("<slug:slug>/members/", views.room_members, name="members"),
]
