"""Notifications (issue 23): who is told of a message (``levels``), telling
their pages over the socket (``notifier``), and Web Push to their devices when
no page shows the room (``push``, ``watching``)."""
