"""Small helpers for JSON endpoints: uniform errors and method checks."""

from functools import wraps

from django.http import JsonResponse


def json_error(status, message, **extra):
    """An error answer: ``{"ok": false, "error": message, ...extra}`` with ``status``."""
    return JsonResponse({"ok": False, "error": message, **extra}, status=status)


# A login or signup form is a few hundred bytes; anything much bigger is abuse.
MAX_BODY_BYTES = 16 * 1024


def _body_size(request):
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def json_post_only(view):
    """Answer anything but a small POST with a JSON error (405, or 413)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            response = json_error(405, f"Method {request.method} not allowed: use POST.")
            response["Allow"] = "POST"
            return response
        if _body_size(request) > MAX_BODY_BYTES:
            return json_error(413, f"The request is too large (at most {MAX_BODY_BYTES} bytes).")
        return view(request, *args, **kwargs)

    return wrapper
