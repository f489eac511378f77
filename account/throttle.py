"""Login and signup throttles: after too many failed logins for one username or from
one address, or too many new accounts from one address, further attempts get
``429`` until the window that the first one opened has passed (never for ever).

- Usernames are counted as Django logs them in: stripped and NFKC-normalised
  (``AbstractBaseUser.normalize_username``), and case-folded on top, so fullwidth ``alice``
  and ``ALICE`` count against alice.
- Addresses come from :func:`d09.client_address.client_address` (``X-Forwarded-For``
  only from trusted proxies); an IPv6 client counts by its /64, the block one
  subscriber gets, so that it cannot take a fresh address per attempt.
- Counts live in the database (``ThrottleCount``), which every worker and host
  shares; there is no cache that a flood of names could flush. Keys are SHA-256
  digests: no list of mistyped usernames (sometimes passwords) is stored.
- An attempt is counted *before* the password is checked and taken back when it
  turns out not to count (a success, a form without a password): parallel requests
  cannot all pass the check while the hashes run. A success also resets the
  username's count.
- A browser that logged in as a name before skips the per-address count for that
  name (a signed cookie): people behind one NAT with a few strangers mistyping, or
  trying, are not locked out; new browsers and attackers are.
- Every login that goes through :func:`throttled_login` is covered: the account
  API and ``/admin/login/``. Its outcome comes from Django's own signals
  (``user_logged_in``, ``user_login_failed``) sent for that request.

Limits and windows are Django settings (d09/settings.py), read at each attempt.
"""

import hashlib
import math
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import receiver
from django.utils import timezone

from account.models import ThrottleCount
from d09.client_address import address_group, client_address

# Set on the request by the signal receivers below: what became of its login.
OUTCOME_ATTRIBUTE = "_d09_login_outcome"


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int  # 0 or less: no limit, nothing counted
    window: int  # seconds from the first attempt


def _digest(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _key(kind, value):
    return f"{kind}:{_digest(value)}"


def normalize_username(username):
    """The name Django would look up (strip, NFKC), case-folded."""
    return get_user_model().normalize_username(username.strip()).casefold()


def login_counters(username, address):
    window = settings.LOGIN_FAILURE_WINDOW
    return [
        Counter(
            _key("login-user", normalize_username(username)),
            settings.LOGIN_FAILURES_PER_USERNAME,
            window,
        ),
        Counter(
            _key("login-address", address_group(address)),
            settings.LOGIN_FAILURES_PER_ADDRESS,
            window,
        ),
    ]


def signup_counters(address):
    return [
        Counter(
            _key("signup-address", address_group(address)),
            settings.SIGNUPS_PER_ADDRESS,
            settings.SIGNUP_WINDOW,
        )
    ]


def _increment(counter, now):
    """Add one to the counter's current window (opening one if there is none) and
    return ``(count, expires)``. Atomic across processes: the row is locked
    (PostgreSQL) or the transaction holds SQLite's write lock (IMMEDIATE mode)."""
    for _ in range(3):
        try:
            with transaction.atomic():
                row = ThrottleCount.objects.select_for_update().filter(key=counter.key).first()
                if row is None:
                    # New windows sweep the expired ones: the table holds only
                    # the keys that made an attempt within a window.
                    ThrottleCount.objects.filter(expires__lte=now).delete()
                    row = ThrottleCount.objects.create(
                        key=counter.key, count=1, expires=now + timedelta(seconds=counter.window)
                    )
                elif row.expires <= now:
                    row.count, row.expires = 1, now + timedelta(seconds=counter.window)
                    row.save(update_fields=["count", "expires"])
                else:
                    row.count += 1
                    row.save(update_fields=["count"])
                return row.count, row.expires
        except IntegrityError:  # another process created the row meanwhile: count in it
            continue
    raise RuntimeError(f"could not count an attempt for {counter.key}")


def _decrement(key, expires):
    """Take one attempt back from the window that ends at ``expires`` (not from a
    later window that opened meanwhile)."""
    ThrottleCount.objects.filter(key=key, expires=expires, count__gt=0).update(count=F("count") - 1)


@dataclass
class Attempt:
    """One attempt, counted; ``refused_until`` is set when it went over a limit."""

    counted: list = field(default_factory=list)  # [(Counter, expires)]
    refused_until: object = None

    @property
    def refused(self):
        return self.refused_until is not None

    def retry_after(self):
        """Seconds until the refusing window ends (at least 1)."""
        return max(1, math.ceil((self.refused_until - timezone.now()).total_seconds()))

    def retry_minutes(self):
        minutes = max(1, math.ceil(self.retry_after() / 60))
        return f"{minutes} minute{'s' if minutes != 1 else ''}"

    def release(self):
        """The attempt does not count after all: take it back from every counter."""
        for counter, expires in self.counted:
            _decrement(counter.key, expires)
        self.counted = []

    def succeeded(self, reset_key):
        """Forget the whole count of ``reset_key`` (a successful login resets its
        username) and take the attempt back from the other counters."""
        ThrottleCount.objects.filter(key=reset_key).delete()
        self.counted = [item for item in self.counted if item[0].key != reset_key]
        self.release()


def begin(counters):
    """Count an attempt against each of ``counters``. When one of them goes over its
    limit the attempt is refused and taken back from all of them, so a refused
    attempt leaves no trace."""
    now = timezone.now()
    attempt = Attempt()
    for counter in counters:
        if counter.limit <= 0:
            continue
        count, expires = _increment(counter, now)
        attempt.counted.append((counter, expires))
        if count > counter.limit:
            attempt.refused_until = max(expires, attempt.refused_until or expires)
    if attempt.refused:
        attempt.release()
    return attempt


def login_refusal(attempt):
    return f"Too many failed logins: try again in {attempt.retry_minutes()}."


def signup_refusal(attempt):
    return f"Too many new accounts from your address: try again in {attempt.retry_minutes()}."


# A browser that logged in as someone gets a signed cookie saying so; its later
# logins as that same name skip the per-address count (the per-username one still
# applies). An office or a school behind one NAT address is then never locked out
# by strangers' failures: only browsers that never logged in there wait.
KNOWN_BROWSER_COOKIE = "d09_known_login"
KNOWN_BROWSER_SALT = "d09.account.throttle.known-browser"
KNOWN_BROWSER_MAX_AGE = 365 * 24 * 60 * 60


def _name_digest(username):
    # The cookie holds a digest: a header value must be ASCII, and a name need not be.
    return _digest(normalize_username(username))


def known_browser(request):
    """The digest of the name this browser last logged in as, if its cookie is ours."""
    return request.get_signed_cookie(
        KNOWN_BROWSER_COOKIE,
        default=None,
        salt=KNOWN_BROWSER_SALT,
        max_age=KNOWN_BROWSER_MAX_AGE,
    )


def remember_browser(response, username):
    response.set_signed_cookie(
        KNOWN_BROWSER_COOKIE,
        _name_digest(username),
        salt=KNOWN_BROWSER_SALT,
        max_age=KNOWN_BROWSER_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def with_retry_after(response, attempt):
    """``response`` (a refusal) with the standard ``Retry-After`` header, in seconds."""
    response["Retry-After"] = str(attempt.retry_after())
    return response


@receiver(user_logged_in, dispatch_uid="d09-throttle-logged-in")
def _login_succeeded(sender, request=None, **kwargs):
    if request is not None:
        setattr(request, OUTCOME_ATTRIBUTE, "succeeded")


@receiver(user_login_failed, dispatch_uid="d09-throttle-login-failed")
def _login_failed(sender, request=None, **kwargs):
    if request is not None:
        setattr(request, OUTCOME_ATTRIBUTE, "failed")


def throttled_login(refuse):
    """Decorator for a view that logs in with Django's ``authenticate``/``login``
    from a POSTed username and password (the account API, the admin's login).

    A POST is counted against its username and client address before the view
    runs; over a limit the view does not run and ``refuse(request, attempt)``
    answers. Afterwards, a login (``user_logged_in``) resets the username and gives
    the address its attempt back; a failure (``user_login_failed``) stays counted;
    anything else (no password given, an error) gives the attempt back.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != "POST":
                return view(request, *args, **kwargs)
            username = request.POST.get(get_user_model().USERNAME_FIELD, "")
            username_counter, address_counter = login_counters(
                username, client_address(request.META)
            )
            known = known_browser(request) == _name_digest(username)
            attempt = begin([username_counter] if known else [username_counter, address_counter])
            if attempt.refused:
                return with_retry_after(refuse(request, attempt), attempt)
            try:
                response = view(request, *args, **kwargs)
            except BaseException:
                attempt.release()
                raise
            outcome = getattr(request, OUTCOME_ATTRIBUTE, None)
            if outcome == "succeeded":
                attempt.succeeded(reset_key=username_counter.key)
                remember_browser(response, username)
            elif outcome != "failed":
                attempt.release()
            return response

        return wrapper

    return decorate
