"""WSGI entry point of the Django app alone (no Socket.IO).

Serve ``sio_server:app`` instead: it wraps this application and adds /socket.io/.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d09.settings")

application = get_wsgi_application()
