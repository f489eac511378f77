"""The login and signup throttle's counters (account/throttle.py)."""

from django.db import models


class ThrottleCount(models.Model):
    """How many attempts one key (a username or an address, hashed) made in the
    window that ends at ``expires``. Rows past ``expires`` count for nothing and are
    deleted as new windows start."""

    key = models.CharField(max_length=100, primary_key=True)
    count = models.PositiveIntegerField()
    expires = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.key}: {self.count} until {self.expires:%Y-%m-%d %H:%M:%S}"
