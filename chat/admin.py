from django.contrib import admin

from chat.models import Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_text", "created"]
    list_filter = ["room"]
    search_fields = ["text", "author__username"]
    list_select_related = ["room", "author"]
    raw_id_fields = ["author"]

    @admin.display(description="text")
    def short_text(self, message):
        return message.text[:80]
