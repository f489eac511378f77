from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from chat import reading
from chat.messages import MAX_MESSAGE_LENGTH
from chat.models import Room


@require_GET
def room_list(request):
    """The rooms, each with the reader's unread count (None where they never
    went); the page keeps the counts and who is online live over ``/lobby``."""
    unread = {}
    if request.user.is_authenticated:
        unread = reading.unread_counts(request.user.pk)
    rooms = Room.objects.all()
    for room in rooms:
        room.unread = unread.get(room.slug)
    return render(request, "chat/index.html", {"rooms": rooms})


@require_GET
@login_required
def room_page(request, slug):
    room = get_object_or_404(Room, slug=slug)
    return render(
        request,
        "chat/room.html",
        {
            "room": room,
            "rooms": Room.objects.all(),
            "max_length": MAX_MESSAGE_LENGTH,
            "edit_minutes": settings.MESSAGE_EDIT_MINUTES,
        },
    )
