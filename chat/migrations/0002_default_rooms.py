"""Data migration: the three chat rooms of the exercise."""

from django.db import migrations

DEFAULT_ROOMS = [
    ("General", "general"),
    ("Cats", "cats"),
    ("Random", "random"),
]


def create_rooms(apps, schema_editor):
    Room = apps.get_model("chat", "Room")
    for name, slug in DEFAULT_ROOMS:
        Room.objects.get_or_create(slug=slug, defaults={"name": name})


def delete_rooms(apps, schema_editor):
    Room = apps.get_model("chat", "Room")
    Room.objects.filter(slug__in=[slug for _name, slug in DEFAULT_ROOMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial")]

    operations = [migrations.RunPython(create_rooms, delete_rooms)]
