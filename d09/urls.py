from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView

from account.throttle import login_refusal, throttled_login
from chat import views as chat_views


def _admin_login_refused(request, attempt):
    return HttpResponse(
        login_refusal(attempt), status=429, content_type="text/plain; charset=utf-8"
    )


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="chat:index", permanent=False)),
    path("", include("account.urls")),
    path("chat/", include("chat.urls")),
    # The service worker of Web Push: at the root, so that its scope is "/".
    path("sw.js", chat_views.service_worker, name="service-worker"),
    # The admin's own login view, counted by the same throttle as the account API
    # (same usernames, same addresses). Listed first, so it wins over admin.site.urls.
    path("admin/login/", throttled_login(_admin_login_refused)(admin.site.login)),
    path("admin/", admin.site.urls),
]
