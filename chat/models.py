from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse


class Room(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", "Open to everyone"
        PRIVATE = "private", "Private: members only"
        DIRECT = "direct", "Direct conversation"

    # Unique among the rooms that have one, whatever the case ("Cats", "cats"):
    # see Meta. A direct room has none: each of its two people sees the other's.
    name = models.CharField(max_length=100, blank=True)
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(
        max_length=7, choices=Kind.choices, default=Kind.OPEN, db_default="open"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # A direct room's two people as "<lower id>:<higher id>" ("7:7": notes to
    # self): the room of a pair is one lookup of this unique index.
    direct_key = models.CharField(max_length=41, null=True, blank=True, unique=True, editable=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        through_fields=("room", "user"),
        related_name="chat_rooms",
        blank=True,
    )
    # The number of the room's latest change (a message posted, edited or
    # deleted): each change takes the next one, so that a page coming back can
    # ask for every change after the last it saw.
    last_seq = models.BigIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                condition=~models.Q(kind="direct"),
                name="chat_room_name_unique",
                violation_error_message="A room with this name exists already.",
            ),
        ]

    def __str__(self):
        return self.name or f"direct {self.direct_key}"

    def get_absolute_url(self):
        return reverse("chat:room", args=[self.slug])

    @property
    def is_open(self):
        return self.kind == self.Kind.OPEN


class Membership(models.Model):
    """A user's place in a private or direct room (open rooms need none)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Also the index of "the members of a room".
            models.UniqueConstraint(fields=["room", "user"], name="chat_membership_once"),
        ]
        indexes = [
            # "The rooms of a user": one range scan.
            models.Index(fields=["user", "room"], name="chat_membership_by_user"),
        ]

    def __str__(self):
        return f"{self.user} in {self.room}"


DELETED_USER = "[deleted]"  # not a username anyone can sign up with (brackets)


def deleted_user():
    """The stand-in author of a deleted user's messages (their rows stay, as
    placeholders with their change numbers: chat.messages.erase_author)."""
    user, made = get_user_model()._default_manager.get_or_create(
        username=DELETED_USER, defaults={"is_active": False}
    )
    if made:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET(deleted_user), related_name="chat_messages"
    )
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    # The sender's own id for this message (a page makes one per line typed), so
    # that sending it again after a lost ack stores nothing twice. Unique per
    # author in the database itself: it holds across workers and restarts.
    # Empty when the sender gave none.
    client_message_id = models.CharField(max_length=64, blank=True, default="", editable=False)
    # The room's change number (Room.last_seq) of this message's latest change.
    seq = models.BigIntegerField(default=0, editable=False)
    edited = models.DateTimeField(null=True, blank=True, editable=False)
    # A deleted message keeps its row (its number and place) but not its text.
    deleted = models.DateTimeField(null=True, blank=True, editable=False)
    # The usernames its text names with @, as they were when it was written.
    mentions = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            # "The last N messages of a room" and "the messages of a room after
            # id X" are both a range scan of this index.
            models.Index(fields=["room", "-id"], name="chat_message_room_recent"),
            # "Every change of a room after number N" (a page coming back).
            models.Index(fields=["room", "seq"], name="chat_message_room_changes"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_message_id"],
                condition=~models.Q(client_message_id=""),
                name="chat_message_once_per_client_id",
            )
        ]

    def __str__(self):
        if self.deleted:
            return f"{self.author} in {self.room}: (deleted)"
        return f"{self.author} in {self.room}: {self.text[:40]}"


class ReadMark(models.Model):
    """How far a user has read a room: the newest message id they have seen.

    Messages of others with a greater id are unread. A mark never moves back;
    a room the user never opened has none (and nothing unread): it is set to the
    room's newest message when they first enter it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_read_marks"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="read_marks")
    last_read_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "room"], name="chat_readmark_once_per_room")
        ]

    def __str__(self):
        return f"{self.user} read {self.room} up to {self.last_read_id}"


class Mute(models.Model):
    """A user kept from writing in a room until a time, by a member of staff."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="mutes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_mutes"
    )
    until = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_mutes_given",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-until"]
        indexes = [models.Index(fields=["room", "user", "-until"], name="chat_mute_active")]

    def __str__(self):
        return f"{self.user} muted in {self.room} until {self.until:%Y-%m-%d %H:%M}"


class NotificationLevel(models.Model):
    """What a user wants to be told of in one room (chat.notify.levels).

    Only choices that differ from the room kind's default need a row (open
    rooms have no memberships to hang a level on); a row equal to the default
    is deleted when set."""

    class Level(models.TextChoices):
        ALL = "all", "All messages"
        MENTIONS = "mentions", "Mentions only"
        NONE = "none", "Nothing"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_notification_levels"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="notification_levels")
    level = models.CharField(max_length=8, choices=Level.choices)

    class Meta:
        constraints = [
            # Also the index of "who wants every message of this room".
            models.UniqueConstraint(fields=["room", "user"], name="chat_notification_level_once"),
        ]
        indexes = [models.Index(fields=["user", "room"], name="chat_notification_by_user")]

    def __str__(self):
        return f"{self.user} in {self.room}: {self.level}"


class PushSubscription(models.Model):
    """One device (a browser's push subscription) of a user: where Web Push
    messages for them go (chat.notify.push)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_push_subscriptions"
    )
    # The push service's URL for this browser: unique, it names the device.
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)  # the browser's public key (base64url)
    auth = models.CharField(max_length=50)  # the shared authentication secret (base64url)
    user_agent = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created"]

    def __str__(self):
        return f"{self.user}'s device {self.pk}"


class SearchableMessage(models.Model):
    """The table of Message as PostgreSQL's full-text search sees it (chat.search.postgres):
    its ``search`` column, a ``tsvector`` the database computes from ``text``
    (a generated column, with a GIN index), exists on PostgreSQL only (migration
    0010_search), so Django never creates or alters this model's table."""

    id = models.BigAutoField(primary_key=True)
    room = models.ForeignKey(Room, on_delete=models.DO_NOTHING, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+"
    )
    text = models.TextField()
    deleted = models.DateTimeField(null=True)
    search = SearchVectorField(null=True)

    class Meta:
        managed = False
        db_table = "chat_message"

    def __str__(self):
        return f"message {self.pk}"


class Attachment(models.Model):
    """A file shared in a room: the message it came with (its caption is the
    message's text), what it is, and where its bytes are (keys of Django's
    default storage, chat/attachments/). ``content_type`` is what the server
    found in the bytes, never what the client declared."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="attachment")
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    storage_key = models.CharField(max_length=255)
    thumbnail_key = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.name} ({self.content_type}, {self.size} bytes)"

    @property
    def is_image(self):
        return self.width is not None
