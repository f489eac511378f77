from django.apps import AppConfig


class AccountConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "account"

    def ready(self):
        # The throttle learns how each login ended from Django's auth signals.
        from account import throttle  # noqa: F401
