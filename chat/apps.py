from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"

    def ready(self):
        # What chat.connection remembers to admit connections cheaply is
        # forgotten as soon as it changes in this process.
        from django.contrib.auth import get_user_model, user_logged_out
        from django.db.models.signals import post_delete, post_save, pre_delete

        from chat import connection
        from chat.models import Attachment, Room

        def on_logout(sender, request, user, **kwargs):
            key = getattr(request.session, "session_key", None)
            if key:
                connection.forget_session(key)

        def on_user_change(sender, instance, update_fields=None, **kwargs):
            if update_fields is not None and set(update_fields) <= {"last_login"}:
                return  # every login saves last_login: nothing changed for sessions
            connection.forget_user(instance.pk)

        def on_room_change(sender, **kwargs):
            connection.forget_rooms()

        def before_user_deleted(sender, instance, **kwargs):
            # Their messages leave every page as deletes do (a cascade removed
            # the rows: open pages and reconnects kept the text).
            from django.db import transaction

            from chat.messages import erase_author
            from chat.signals import message_changed

            for message in erase_author(instance):
                transaction.on_commit(
                    lambda message=message: message_changed.send(
                        sender=type(message), message=message, deleted=True
                    )
                )

        def on_attachment_deleted(sender, instance, **kwargs):
            from chat.attachments.store import delete_files_on_commit

            delete_files_on_commit(instance)

        User = get_user_model()
        post_delete.connect(
            on_attachment_deleted, sender=Attachment, weak=False, dispatch_uid="chat-files-gone"
        )
        user_logged_out.connect(on_logout, weak=False, dispatch_uid="chat-admission-logout")
        post_save.connect(on_user_change, sender=User, weak=False, dispatch_uid="chat-admission-u")
        post_delete.connect(on_user_change, sender=User, weak=False, dispatch_uid="chat-adm-ud")
        pre_delete.connect(before_user_deleted, sender=User, weak=False, dispatch_uid="chat-erase")
        post_save.connect(on_room_change, sender=Room, weak=False, dispatch_uid="chat-adm-room")
        post_delete.connect(on_room_change, sender=Room, weak=False, dispatch_uid="chat-adm-rd")
        post_migrate.connect(search_index_in_place, sender=self, dispatch_uid="chat-search-index")


def search_index_in_place(sender, using, **kwargs):
    """After every ``migrate``: SQLite's search triggers are there (Django
    remakes a table to alter it on SQLite, which drops its triggers; the index
    is rebuilt then). Nothing before the search migration made the index."""
    from django.db import connections

    from chat.search import sqlite

    database = connections[using]
    if database.vendor != "sqlite":
        return
    with database.cursor() as cursor:
        if sqlite.TABLE in database.introspection.table_names(cursor):
            sqlite.install(cursor)
