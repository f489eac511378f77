"""Site-wide HTTP behaviour that Django 5.2 does not have by itself: headers,
and the answer when a worker has too many password hashes on their way."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse

from d09.hashers import HashingBusy
from d09.runtime.capacity import retry_after

BUSY = "The server is busy: please try again in a few seconds."


class ContentSecurityPolicyMiddleware:
    """``Content-Security-Policy: <settings.CONTENT_SECURITY_POLICY>`` on every
    response that has none yet (none at all when the setting is empty)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class HashingBusyMiddleware:
    """503 with ``Retry-After`` for a request whose password hash was refused
    (d09.hashers.HashingBusy): JSON ``{"ok": false, "error"}`` for the account
    API, whose page shows the error; plain text elsewhere (the admin)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, HashingBusy):
            return None
        if request.path.startswith(reverse("account:page") + "/"):
            response = JsonResponse({"ok": False, "error": BUSY}, status=503)
        else:
            response = HttpResponse(BUSY, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(retry_after())
        return response
