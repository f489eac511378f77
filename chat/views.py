from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import access, limits, reading, search
from chat.forms import MemberForm, RoomForm
from chat.messages import MAX_MESSAGE_LENGTH
from chat.models import Room
from chat.notify import push
from chat.payloads import is_username
from d09.runtime.capacity import retry_after


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
    return render_room(request, room, at=_message_id(request.GET.get("at")))


def _message_id(value):
    """``?at=<id>``: open the room at that message (a search result), else None."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 18:
        return None
    return int(value) or None


@require_GET
@login_required
def direct_page(request, username):
    """The one-to-one conversation with ``username``: made at the first visit
    of either person, the same one ever after."""
    if not is_username(username):
        raise Http404("No such user.")
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


def render_room(request, room, member_error=None, status=200, at=None):
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
        "at": at,
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


_search_limiters = {}


def _search_limiter():
    """The per-user bucket of searches (made again if the settings change: tests)."""
    key = (settings.SEARCH_RATE_BURST, settings.SEARCH_RATE_PER_MINUTE)
    if key not in _search_limiters:
        _search_limiters.clear()
        _search_limiters[key] = limits.search_limiter()
    return _search_limiters[key]


def _page_number(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1


@require_GET
@login_required
def search_page(request):
    """``?q=<query>[&room=<slug>][&page=<n>]``: the messages of the rooms the
    reader may read that match, best first, with the query language explained.
    A room they may not see answers as one that does not exist (404)."""
    text = request.GET.get("q", "")[: search.query.MAX_QUERY_LENGTH * 2]
    room = None
    if request.GET.get("room"):
        room = access.room_for_page(request.user, request.GET["room"])
        if room is None:
            raise Http404("No such room.")
    context = {"q": text, "room": room, "found": None, "error": None}
    context["everywhere_query"] = urlencode({"q": text})
    status = 200
    if text.strip():
        status = _search_into(context, request, text, room)
    response = render(request, "chat/search.html", context, status=status)
    if status == 503:
        response["Retry-After"] = str(retry_after())
    return response


def _search_into(context, request, text, room):
    """Search, into ``context``; the HTTP status."""
    wait = _search_limiter().take(request.user.pk)
    if wait:
        context["error"] = f"Too many searches: try again in {limits.wait_text(wait)}."
        return 429
    try:
        found = search.search(request.user, text, room, _page_number(request.GET.get("page")))
    except search.SearchBusy:
        context["error"] = "The server is busy: please search again in a few seconds."
        return 503
    context["found"] = found
    context["first_number"] = (found.number - 1) * search.PAGE_SIZE + 1
    context["previous_query"] = _with_page(request, found.number - 1)
    context["next_query"] = _with_page(request, found.number + 1)
    return 200


def _with_page(request, number):
    query = request.GET.copy()
    query["page"] = str(number)
    return query.urlencode()
