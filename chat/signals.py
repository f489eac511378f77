"""The chat's own signals: changes made outside the socket handlers (the admin)
that the open pages must hear of. chat.background connects the receivers that
tell the rooms; a process without the chat server (a shell) sends them to
nobody, and the pages learn of the change at their next reconnect (every such
change takes the room's next change number)."""

from django.dispatch import Signal

# A message was edited or deleted outside the handlers: ``message``, ``deleted``.
message_changed = Signal()
