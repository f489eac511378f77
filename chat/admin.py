from django.contrib import admin

from chat import messages
from chat.connection import Member
from chat.models import Membership, Message, Mute, ReadMark, Room
from chat.signals import message_changed


def author_of(message):
    """The message's author as a member of its room (for the rules of an edit)."""
    room = message.room
    return Member(
        user_id=message.author_id,
        username=message.author.get_username(),
        room_id=room.pk,
        room_slug=room.slug,
        room_name=room.name,
        private=room.kind != Room.Kind.OPEN,
    )


# Direct conversations are seen by their two people only, staff included: the
# admin shows none of them, nor anything that names what they hold.
class WithoutDirectRooms:
    """An admin whose rows belong to a room (``room_path``): none of a direct one."""

    room_path = "room__"

    def get_queryset(self, request):
        path = self.room_path
        return super().get_queryset(request).exclude(**{path + "kind": Room.Kind.DIRECT})


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "room"
    raw_id_fields = ["user"]
    readonly_fields = ["added_by", "created"]
    extra = 1


@admin.register(Room)
class RoomAdmin(WithoutDirectRooms, admin.ModelAdmin):
    room_path = ""
    list_display = ["name", "slug", "kind", "created_by"]
    list_filter = ["kind"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    raw_id_fields = ["created_by"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # A room's slug is its Socket.IO room and its pages' URL: renamed under
        # open connections it split the room in two. Its name can change.
        return ["slug", "kind"] if obj is not None else []

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields


@admin.register(Message)
class MessageAdmin(WithoutDirectRooms, admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_text", "created", "edited", "is_deleted"]
    list_filter = [
        ("room", admin.RelatedOnlyFieldListFilter),
        ("deleted", admin.EmptyFieldListFilter),
    ]
    search_fields = ["text", "author__username"]
    list_select_related = ["room", "author"]
    raw_id_fields = ["author"]
    readonly_fields = ["client_message_id", "seq", "edited", "deleted", "mentions"]

    def save_model(self, request, obj, form, change):
        """An edit here is an edit as in the chat: the room's next change number,
        the mentions again, ``message_updated`` to the open pages."""
        if not change or "text" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        member = author_of(obj)
        messages.edit_message(obj, obj.text, member)
        message_changed.send(sender=Message, message=obj, deleted=False)

    def delete_model(self, request, obj):
        """A delete here is a delete as in the chat: the text goes, the row stays
        as a placeholder, the pages hear of it (a hard delete left it on every
        open page and in every reconnect)."""
        if obj.deleted is None:
            messages.delete_message(obj)
            message_changed.send(sender=Message, message=obj, deleted=True)

    def delete_queryset(self, request, queryset):
        for message in queryset.filter(deleted__isnull=True):
            self.delete_model(request, message)

    @admin.display(description="text")
    def short_text(self, message):
        return "(deleted)" if message.deleted else message.text[:80]

    @admin.display(description="deleted", boolean=True)
    def is_deleted(self, message):
        return message.deleted is not None


@admin.register(Mute)
class MuteAdmin(WithoutDirectRooms, admin.ModelAdmin):
    list_display = ["user", "room", "until", "by", "created"]
    list_filter = [("room", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username"]
    list_select_related = ["user", "room", "by"]
    raw_id_fields = ["user", "by"]


@admin.register(ReadMark)
class ReadMarkAdmin(WithoutDirectRooms, admin.ModelAdmin):
    list_display = ["user", "room", "last_read_id"]
    list_select_related = ["user", "room"]
    raw_id_fields = ["user"]
