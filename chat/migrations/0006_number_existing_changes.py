"""Existing messages get a change number: their id (numbers only need to grow
within a room), and each room's counter starts at its newest message's."""

from django.db import migrations
from django.db.models import F, Max


def number_changes(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    Room = apps.get_model("chat", "Room")
    Message.objects.update(seq=F("id"))
    for room in Room.objects.annotate(newest=Max("messages__id")):
        Room.objects.filter(pk=room.pk).update(last_seq=room.newest or 0)


class Migration(migrations.Migration):
    dependencies = [("chat", "0005_changes_and_moderation")]

    operations = [migrations.RunPython(number_changes, migrations.RunPython.noop)]
