"""``/account`` and ``/account/`` both render the page; the JSON endpoints sit below it."""

from django.urls import path

from account import views

app_name = "account"

urlpatterns = [
    path("account", views.account_page, name="page"),
    path("account/", views.account_page),
    path("account/login", views.login_view, name="login"),
    path("account/logout", views.logout_view, name="logout"),
    path("account/signup", views.signup_view, name="signup"),
    path("account/devices", views.devices_view, name="devices"),
    path("account/devices/<int:device_id>/test", views.device_test_view, name="device_test"),
    path("account/devices/<int:device_id>/remove", views.device_remove_view, name="device_remove"),
]
