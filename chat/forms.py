"""The ordinary forms of the room pages: a new room, a member added or removed."""

import re

from django import forms
from django.contrib.auth import get_user_model

from chat.models import Room

SEPARATORS = re.compile(r"[\s,]+")  # usernames hold neither (Django's username rules)


def active_users_named(names):
    """The active users of ``names``; a ValidationError names the unknown ones."""
    users = list(get_user_model()._default_manager.filter(username__in=names, is_active=True))
    unknown = sorted(set(names) - {user.get_username() for user in users})
    if unknown:
        raise forms.ValidationError(f"No such user: {', '.join(unknown)}.")
    return users


class RoomForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    kind = forms.ChoiceField(
        label="Who can see it",
        choices=[(Room.Kind.OPEN, "Everyone"), (Room.Kind.PRIVATE, "Only the members I choose")],
        initial=Room.Kind.OPEN,
        widget=forms.RadioSelect,
    )
    members = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Private rooms: usernames, separated by commas or spaces.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "room_%s")
        super().__init__(*args, **kwargs)
        for name in ("name", "members"):
            self.fields[name].widget.attrs["class"] = "form-control"
        self.fields["kind"].widget.attrs["class"] = "form-check-input"

    def clean_name(self):
        name = self.cleaned_data["name"]
        taken = Room.objects.exclude(kind=Room.Kind.DIRECT).filter(name__iexact=name)
        if taken.exists():
            raise forms.ValidationError("A room with this name exists already.")
        return name

    def clean_members(self):
        names = [name for name in SEPARATORS.split(self.cleaned_data["members"]) if name]
        return active_users_named(names)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Room.Kind.OPEN and cleaned.get("members"):
            self.add_error("members", "An open room is everyone's: members are for private rooms.")
        return cleaned


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True)
    action = forms.ChoiceField(choices=[("add", "Add"), ("remove", "Remove")])
