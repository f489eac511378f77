from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from chat.messages import MAX_MESSAGE_LENGTH
from chat.models import Room


@require_GET
def room_list(request):
    return render(request, "chat/index.html", {"rooms": Room.objects.all()})


@require_GET
@login_required
def room_page(request, slug):
    room = get_object_or_404(Room, slug=slug)
    return render(
        request,
        "chat/room.html",
        {"room": room, "rooms": Room.objects.all(), "max_length": MAX_MESSAGE_LENGTH},
    )
