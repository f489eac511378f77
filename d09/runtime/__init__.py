"""How the chat runs: the process around Django and python-socketio.

- ``app.create_app()``: the WSGI app that ``sio_server.py`` serves (Django
  wrapped by the Socket.IO server, behind the WebSocket middleware).
- ``server.ChatServer``: python-socketio's server with the guards it leaves to
  applications (the only class overriding its private methods).
- ``fresh_stack``, ``gc_tuning``, ``websocket_middleware``: what the eventlet
  worker needs to stay small and fast with 10k connections (bench/README.md).
- ``green``: the PostgreSQL driver yields to the hub.
- ``event_db``: database connections lent to event handlers.
- ``deadlines``: one sweeper for the connect timeouts.

Nothing here knows about rooms or messages (that is ``chat``).
"""
