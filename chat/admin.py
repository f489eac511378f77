from django.contrib import admin

from chat.models import Message, Mute, ReadMark, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_text", "created", "edited", "is_deleted"]
    list_filter = ["room", ("deleted", admin.EmptyFieldListFilter)]
    search_fields = ["text", "author__username"]
    list_select_related = ["room", "author"]
    raw_id_fields = ["author"]
    readonly_fields = ["client_message_id", "seq", "edited", "deleted", "mentions"]

    @admin.display(description="text")
    def short_text(self, message):
        return "(deleted)" if message.deleted else message.text[:80]

    @admin.display(description="deleted", boolean=True)
    def is_deleted(self, message):
        return message.deleted is not None


@admin.register(Mute)
class MuteAdmin(admin.ModelAdmin):
    list_display = ["user", "room", "until", "by", "created"]
    list_filter = ["room"]
    search_fields = ["user__username"]
    list_select_related = ["user", "room", "by"]
    raw_id_fields = ["user", "by"]


@admin.register(ReadMark)
class ReadMarkAdmin(admin.ModelAdmin):
    list_display = ["user", "room", "last_read_id"]
    list_select_related = ["user", "room"]
    raw_id_fields = ["user"]
