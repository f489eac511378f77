from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import access, reading
from chat.forms import MemberForm, RoomForm
from chat.messages import MAX_MESSAGE_LENGTH
from chat.models import Room
from chat.notify import push


@require_http_methods(["GET", "POST"])
def room_list(request):
    """The rooms the reader may see, each with their unread count (None where
    they never went), their direct conversations, and the form for a new room
    (POST here). The page keeps the counts live over ``/lobby``."""
    form = None
    if request.user.is_authenticated and access.may_create_rooms(request.user):
        # Bound on every POST, an empty one included (it gets its errors).
        form = RoomForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if form is None:
            raise PermissionDenied("Only staff can create rooms here.")
        if form.is_valid():
            data = form.cleaned_data
            room = access.create_room(request.user, data["name"], data["kind"], data["members"])
            return redirect(room)
    return render(request, "chat/index.html", room_list_context(request.user, form))


def room_list_context(user, form):
    if not user.is_authenticated:
        return {"rooms": Room.objects.filter(kind=Room.Kind.OPEN), "form": None}
    unread = reading.unread_counts(user.pk)
    rooms = list(access.visible_rooms(user.pk))
    directs = access.direct_rooms(user.pk, user.get_username())
    for room in rooms + directs:
        room.unread = unread.get(room.slug)
    return {"rooms": rooms, "directs": directs, "form": form}


@require_GET
@login_required
def room_page(request, slug):
    room = access.room_for_page(request.user, slug)
    if room is None:
        raise Http404("No such room.")
    return render_room(request, room)


@require_GET
@login_required
def direct_page(request, username):
    """The one-to-one conversation with ``username``: made at the first visit
    of either person, the same one ever after."""
    other = get_object_or_404(get_user_model(), username=username, is_active=True)
    return render_room(request, access.direct_room(request.user, other))


@require_POST
@login_required
def room_members(request, slug):
    """Add or remove a member of a private room (its creator and staff), then
    back to the room page, which says what went wrong if anything did."""
    room = access.room_for_page(request.user, slug)
    if room is None:
        raise Http404("No such room.")
    form = MemberForm(request.POST)
    error = None
    if not form.is_valid():
        error = "Say whom to add or remove."
    else:
        change = access.add_member if form.cleaned_data["action"] == "add" else access.remove_member
        try:
            change(request.user, room, form.cleaned_data["username"])
        except access.NotAllowed as refusal:
            error = str(refusal)
    if error is None:
        return redirect(room)
    return render_room(request, room, member_error=error, status=400)


def render_room(request, room, member_error=None, status=200):
    username = request.user.get_username()
    members = None
    if room.kind == Room.Kind.PRIVATE:
        members = room.memberships.select_related("user").order_by("user__username")
    context = {
        "room": room,
        "title": access.title_for(room, username),
        "rooms": access.visible_rooms(request.user.pk),
        "members": members,
        "may_manage": access.may_manage(request.user, room),
        "member_error": member_error,
        "max_length": MAX_MESSAGE_LENGTH,
        "edit_minutes": settings.MESSAGE_EDIT_MINUTES,
        # Empty when push is off: the page says so instead of subscribing.
        "vapid_public_key": settings.VAPID_PUBLIC_KEY if push.sender() else "",
    }
    return render(request, "chat/room.html", context, status=status)


@require_GET
def service_worker(request):
    """``/sw.js``: the service worker that shows Web Push notifications
    (chat/templates/chat/sw.js), served from the site's root so that its
    scope is the whole site; never cached for long (browsers check it)."""
    response = render(request, "chat/sw.js", content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
