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
]
