"""Small helpers for JSON endpoints: uniform errors and method checks."""

from functools import wraps

from django.http import JsonResponse


def json_error(status, message, **extra):
    """An error answer: ``{"ok": false, "error": message, ...extra}`` with ``status``."""
    return JsonResponse({"ok": False, "error": message, **extra}, status=status)


def json_post_only(view):
    """Answer anything but POST with a JSON 405 (and the Allow header)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            response = json_error(405, f"Method {request.method} not allowed: use POST.")
            response["Allow"] = "POST"
            return response
        return view(request, *args, **kwargs)

    return wrapper
