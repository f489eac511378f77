"""The account page and its JSON endpoints (login, logout, signup through AJAX POST)."""

from django.contrib.auth import login, logout
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.csrf import csrf_failure as default_csrf_failure
from django.views.decorators.http import require_GET

from account import throttle
from account.forms import LoginForm, SignupForm
from account.http import json_error, json_post_only
from chat.notify import push
from d09.client_address import client_address


def safe_next_url(request):
    """The ``next`` parameter if it points back into this site, else None."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if candidate and allowed else None


def _signed_in_response(request, username):
    # Django rotates the CSRF token at login and logout; hand the page the new one
    # so that it never posts a stale token.
    return JsonResponse(
        {
            "ok": True,
            "username": username,
            "csrfToken": get_token(request),
            "next": safe_next_url(request),
        }
    )


def _form_errors(form):
    """400 with ``errors``: field name (``__all__`` for the form) -> list of messages."""
    errors = {
        field: [error["message"] for error in field_errors]
        for field, field_errors in form.errors.get_json_data().items()
    }
    return json_error(400, "The form is not valid.", errors=errors)


@require_GET
def account_page(request):
    context = {
        "login_form": LoginForm(request),
        "signup_form": SignupForm(),
        "next_url": safe_next_url(request),
        "chat_url": reverse("chat:index"),
    }
    # The template reads the token from this context; forcing it here also sets
    # the cookie so the page's first POST is accepted.
    get_token(request)
    return render(request, "account/page.html", context)


def _login_refused(request, attempt):
    return json_error(429, throttle.login_refusal(attempt))


@json_post_only
@throttle.throttled_login(_login_refused)
def login_view(request):
    form = LoginForm(request, data=request.POST)
    if not form.is_valid():
        return _form_errors(form)
    login(request, form.get_user())
    return _signed_in_response(request, request.user.get_username())


@json_post_only
def logout_view(request):
    username = request.user.get_username() if request.user.is_authenticated else None
    logout(request)
    return _signed_in_response(request, username)


@json_post_only
def signup_view(request):
    # Counted before the form is checked (parallel requests cannot all slip
    # through), given back unless an account is created.
    attempt = throttle.begin(throttle.signup_counters(client_address(request.META)))
    if attempt.refused:
        return throttle.with_retry_after(json_error(429, throttle.signup_refusal(attempt)), attempt)
    form = SignupForm(data=request.POST)
    user = None
    try:
        if form.is_valid():
            user = form.save()
    finally:
        if user is None:
            attempt.release()
    if user is None:
        return _form_errors(form)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    response = _signed_in_response(request, user.get_username())
    throttle.remember_browser(response, user.get_username())  # as after a login
    return response


# -- devices that get Web Push (chat.notify.push) ---------------------------------


@require_GET
def devices_view(request):
    """``{"ok": true, "push": bool, "devices": [{"id", "name", "created"}]}``."""
    if not request.user.is_authenticated:
        return json_error(401, "Log in to see your devices.")
    devices = [
        {**device, "created": device["created"].isoformat()}
        for device in push.devices_of(request.user.pk)
    ]
    return JsonResponse({"ok": True, "push": push.sender() is not None, "devices": devices})


def _users_device(request, device_id):
    if not request.user.is_authenticated:
        return None, json_error(401, "Log in to manage your devices.")
    device = push.device_of(request.user.pk, device_id)
    if device is None:
        return None, json_error(404, "There is no such device.")
    return device, None


@json_post_only
def device_test_view(request, device_id):
    """Send a test notification to one of the user's devices."""
    device, refusal = _users_device(request, device_id)
    if refusal:
        return refusal
    if push.sender() is None:
        return json_error(503, push.PUSH_OFF)
    push.sender().send_test(device.pk)
    return JsonResponse({"ok": True})


@json_post_only
def device_remove_view(request, device_id):
    """Forget one of the user's devices: it gets no more pushes."""
    device, refusal = _users_device(request, device_id)
    if refusal:
        return refusal
    device.delete()
    return JsonResponse({"ok": True})


def csrf_failure(request, reason=""):
    """JSON 403 for the account API; Django's own page everywhere else (admin...)."""
    if request.path.startswith(reverse("account:page") + "/"):
        return json_error(
            403, "CSRF verification failed: reload the page and try again.", reason=reason
        )
    return default_csrf_failure(request, reason=reason)
