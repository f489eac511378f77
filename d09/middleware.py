"""Site-wide HTTP headers that Django 5.2 does not set by itself."""

from django.conf import settings


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
