"""Django's own authentication forms, styled for Bootstrap and given distinct ids."""

from django.contrib.auth.forms import AuthenticationForm, UserCreationForm


class BootstrapFieldsMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


class LoginForm(BootstrapFieldsMixin, AuthenticationForm):
    def __init__(self, request=None, *args, **kwargs):
        kwargs.setdefault("auto_id", "login_%s")
        super().__init__(request, *args, **kwargs)


class SignupForm(BootstrapFieldsMixin, UserCreationForm):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "signup_%s")
        super().__init__(*args, **kwargs)
