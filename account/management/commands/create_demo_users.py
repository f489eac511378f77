"""Create the demo users alice, bob and carol (idempotent; for local use only)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERNAMES = ("alice", "bob", "carol")
DEMO_PASSWORD = "chat-demo-2024"


class Command(BaseCommand):
    help = "Create the demo users alice, bob and carol with the README's password."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args, password, **options):
        User = get_user_model()
        for username in DEMO_USERNAMES:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"{username}: already there, left as it is")
                continue
            User.objects.create_user(username=username, password=password)
            self.stdout.write(f"{username}: created")
