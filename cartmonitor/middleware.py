"""HTTP hardening that no Django setting covers: a strict Content-Security-Policy, a
Permissions-Policy, a sliding idle timeout that does not write on every request (nor slide on a
page's own refresh), an expired session's htmx request sent to the login page, the login
page told that a session ended, a form sent by script told where it was redirected, and the
client's address as the load balancer saw it.

Django 5.2 has no built-in CSP (it arrives in 6.0), so this sets a fixed header. The policy has
no 'unsafe-inline': an injected <script> or on*= attribute never runs, even if escaping fails
somewhere. Templates must therefore load scripts and styles from files under static/ only;
tests/web/test_security.py scans templates/ so that a new inline script fails the suite rather
than failing silently in the browser. The Django admin needs no exception: its 5.2 templates
carry no inline scripts, handlers or style attributes (checked in the same tests).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.utils import translation

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Bootstrap draws its select arrows and navbar icon as data: SVGs.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",  # as X-Frame-Options DENY, for browsers that prefer CSP
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
# A monitoring app has no use for these; a compromised page must not get them either.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"


class SecurityHeadersMiddleware:
    """Add CSP and Permissions-Policy unless a view set its own (``setdefault``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class HostileRequestMiddleware:
    """Answer requests that no page of ours sends, and that Django would answer with a 500,
    with a 400 or a message that says what was wrong.

    - A body in a charset other than UTF-8 (``charset=utf-7``, ``utf-16``): Django refuses it
      while the CSRF check reads the form, and then fails again rendering that refusal.
    - A NUL byte in the address (``?q=%00``): PostgreSQL refuses NUL in a query, in the admin's
      list filters and searches among others.
    - A Django admin list filter with a date beyond Python's range (a 20-digit year, or
      December of year 9999, whose next month the date drill-down computes): the list is shown
      unfiltered, with a message, as the admin does for any other invalid filter.

    Placed after MessageMiddleware, so that its messages are stored with the response; its
    checks still run before any view or CSRF check reads the body.
    """

    ACCEPTED_CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii"}
    INVALID_FILTER = (
        "That filter is not valid (dates as YYYY-MM-DD, in years 1–9999; whole numbers for "
        "ids): showing the list without it."
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        charset = request.content_params.get("charset", "")
        if charset and charset.strip().lower() not in self.ACCEPTED_CHARSETS:
            return self.refuse(
                f"Send forms encoded as UTF-8; charset={charset[:32]} is not accepted."
            )
        query = unquote_plus(request.META.get("QUERY_STRING", ""))
        if "\x00" in request.path or "\x00" in query:
            return self.refuse("The address contains a NUL character (%00), which no page accepts.")
        response = self.get_response(request)
        if self.is_admin_list(request) and response.get("Location") == request.path + "?e=1":
            messages.error(request, self.INVALID_FILTER)  # Django's own invalid-filter redirect
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, OverflowError) and self.is_admin_list(request):
            messages.error(request, self.INVALID_FILTER)
            return HttpResponseRedirect(request.path)
        return None

    @staticmethod
    def is_admin_list(request) -> bool:
        match = getattr(request, "resolver_match", None)
        return bool(match and match.namespace == "admin" and match.url_name.endswith("changelist"))

    @staticmethod
    def refuse(reason: str) -> HttpResponseBadRequest:
        return HttpResponseBadRequest(
            f"Bad request: {reason}\n", content_type="text/plain; charset=utf-8"
        )


# Sent by the pages that refresh themselves (templates/monitoring/_partials/_poll.html): the
# request is the page asking, not a person doing something.
POLL_HEADER = "X-Cartmonitor-Poll"


class IdleSessionMiddleware:
    """Slide a logged-in session's expiry on activity, rewriting its row at most once a minute.

    The session expires SESSION_COOKIE_AGE after its last save. Saving it on every request
    (SESSION_SAVE_EVERY_REQUEST) would cost a write per click; instead we stamp the session when
    the last stamp is more than a minute old, which marks it modified, and SessionMiddleware
    then saves it with a fresh expiry. A session not stamped yet is as fresh as the user's
    last login (already loaded with request.user, so this costs no query).

    A page's own refresh (the board's every 30 s, marked with ``POLL_HEADER``) is not
    activity: a board left alone on a ward computer still logs out after the idle limit. Wall
    displays are the exception, on purpose: a shared screen has its own login
    (User.Role.DISPLAY), shows no identifiers, and must stay up while it polls.
    """

    STAMP = "_cartmonitor_active_at"  # epoch seconds of the last slide

    def __init__(self, get_response):
        self.get_response = get_response
        # A tenth of the idle time, for very short test timeouts; one minute otherwise.
        self.refresh_after = min(60, settings.SESSION_COOKIE_AGE // 10)

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        # After a logout the user is anonymous and the session gone: nothing to slide.
        if user is not None and user.is_authenticated and self.is_activity(request, user):
            now = int(time.time())
            last = request.session.get(self.STAMP)
            if last is None:
                last = int(user.last_login.timestamp()) if user.last_login else 0
            if now - last >= self.refresh_after:
                request.session[self.STAMP] = now
        return response

    @staticmethod
    def is_activity(request, user) -> bool:
        return POLL_HEADER not in request.headers or user.can_view_wall_display


class HomeSessionMiddleware:
    """A patient or caregiver at home (``User.can_use_home``) reaches the home pages of their own
    course and nothing else (issue 15 §4; monitoring/access.py "Home").

    - Every request checks that their access is still open — not revoked, the course planned or
      under monitoring — on the user row already loaded for the request (HomeBackend loads the
      access and course with it: no query of its own). A closed one ends the session at once:
      logged out, and sent to the page that says their access has ended.
    - Any view not marked ``@home_page`` answers 404, before the view runs: the staff pages
      would answer 403 themselves, but a home session must not even learn what exists.

    Placed right after AuthenticationMiddleware, before anything reads the user's pages.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from monitoring.access import home_access_of  # the app's models, loaded by now

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.can_use_home:
            access = home_access_of(user)
            if access is None or not access.is_open:
                logout(request)
                return redirect("monitoring:home-ended")
            request.home_access = access
        return self.get_response(request)

    @staticmethod
    def process_view(request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.can_use_home
            and not getattr(view_func, "home_allowed", False)
        ):
            raise Http404("Not a home page.")
        return None


class UserLanguageMiddleware:
    """Answer a logged-in user in the language chosen on their profile (``User.language``).

    LocaleMiddleware, earlier in the chain, has already picked the browser's Accept-Language
    (else English); a user who chose a language overrides it, on any computer they log in to.
    Runs after AuthenticationMiddleware; the user is loaded for the request anyway (no query of
    its own). Only the language changes: times stay in the unit's zone (settings.TIME_ZONE).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        chosen = getattr(user, "language", "") if user is not None else ""
        if chosen and user.is_authenticated and translation.check_for_language(chosen):
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        return self.get_response(request)


class HtmxLoginRedirectMiddleware:
    """An htmx request from a session that has expired (the board's refresh after the idle
    limit) is sent to the login page as a whole page (``HX-Redirect``), coming back to the page
    it was made from — instead of the login form being swapped into the board, or a board that
    silently stops refreshing.

    Placed before LoginRequiredMiddleware, whose redirect to the login page it rewrites.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            request.headers.get("HX-Request") == "true"
            and (user is None or not user.is_authenticated)
            and response.status_code == 302
            and urlsplit(response["Location"]).path == resolve_url(settings.LOGIN_URL)
        ):
            page = urlsplit(request.headers.get("HX-Current-URL", ""))
            # Back to the page the request came from (ours only), not to the fragment it asked.
            back = page.path if page.path.startswith("/") and not page.path.startswith("//") else ""
            back = back + (f"?{page.query}" if back and page.query else "")
            target = redirect_to_login(back or request.get_full_path()).url
            if session_ended(request):
                target = with_expired_flag(target)
            answer = HttpResponse("Your session has ended: log in again.\n", status=401)
            answer.cookies = response.cookies  # SessionEndedMiddleware's, among others
            answer["HX-Redirect"] = target
            answer["Content-Type"] = "text/plain; charset=utf-8"
            return answer
        return response


# The login page says "your session ended" when it finds this in its address (nothing else).
EXPIRED_PARAM = "expired"


def is_login_redirect(response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and urlsplit(
        response.get("Location", "")
    ).path == resolve_url(settings.LOGIN_URL)


def login_query(response) -> dict:
    return dict(parse_qsl(urlsplit(response["Location"]).query))


# Says "someone was logged in on this browser" and nothing else (no id, no name). The browser
# drops the session cookie itself once it is SESSION_COOKIE_AGE old, at the same moment the
# server's session expires, so a request after the idle limit usually carries no session cookie
# at all: without this marker it would look like a first visit.
SIGNED_IN_COOKIE = "cartmonitor_signed_in"
SIGNED_IN_MAX_AGE = 12 * 60 * 60  # a shift; set again on the next page of a longer session
LOGOUT_VIEWS = {"logout", "admin:logout"}


def _authenticated(request) -> bool:
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated


def session_ended(request) -> bool:
    """No one is logged in, but someone was on this browser and did not log out: the session
    expired (or was deleted on the server). A logout deletes both cookies, so it does not count.
    """
    had_session = request.COOKIES.get(settings.SESSION_COOKIE_NAME) or request.COOKIES.get(
        SIGNED_IN_COOKIE
    )
    return bool(had_session) and not _authenticated(request)


def with_expired_flag(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != EXPIRED_PARAM]
    query.append((EXPIRED_PARAM, "1"))
    return parts._replace(query=urlencode(query)).geturl()


class SessionEndedMiddleware:
    """A request sent to the login page because its session expired says so in the login
    address (``?next=…&expired=1``), so that the page can tell the nurse why she is there.

    Only redirects that carry ``next`` (LoginRequiredMiddleware's: a page was asked for) are
    marked; the redirect after a logout has none. A POST is redirected like a GET: nothing is
    saved, nothing raises, and ``next`` is the address it was sent to, which for our forms is
    the form's own page: after logging in the nurse comes back to the form (GET), where
    static/js/drafts.js puts back what she typed.

    Keeps SIGNED_IN_COOKIE: set while someone is logged in, deleted by a logout and once it has
    told the login page. Only requests that bring a cookie are looked at, so a cookie-less
    request (a load balancer's health check) costs no session query.

    Placed before LoginRequiredMiddleware, whose redirect it rewrites.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.COOKIES:
            return response
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name in LOGOUT_VIEWS:
            response.delete_cookie(SIGNED_IN_COOKIE, samesite="Lax")
        elif _authenticated(request):
            if not request.COOKIES.get(SIGNED_IN_COOKIE):
                response.set_cookie(
                    SIGNED_IN_COOKIE,
                    "1",
                    max_age=SIGNED_IN_MAX_AGE,
                    secure=settings.SESSION_COOKIE_SECURE,
                    httponly=True,
                    samesite="Lax",
                )
        elif (
            is_login_redirect(response)
            and "next" in login_query(response)
            and session_ended(request)
        ):
            response["Location"] = with_expired_flag(response["Location"])
            response.delete_cookie(SIGNED_IN_COOKIE, samesite="Lax")
        return response


# Sent by static/js/drafts.js when it sends a form itself (to keep it on screen if the network
# is down). The answer to such a post is never a redirect, which fetch() would follow blindly
# (a success's flash message would be spent on a page no one sees): the address goes in
# SUBMIT_LOCATION_HEADER, and SUBMIT_LOGIN_HEADER says that it is the login page.
SUBMIT_HEADER = "X-Cartmonitor-Submit"
SUBMIT_LOCATION_HEADER = "X-Cartmonitor-Location"
SUBMIT_LOGIN_HEADER = "X-Cartmonitor-Login"


class FetchSubmitMiddleware:
    """Turn the redirect that answers a form sent by drafts.js into a 204 that names it.

    The script then knows the outcome: the login page (the session ended; the draft is kept)
    or any other page (the form was dealt with; the draft is cleared), and goes there itself.
    Any other answer (a form with errors) the script does not handle: it sends the form again
    the ordinary way, so the page is the one the browser would have shown without it.

    Placed inside MessageMiddleware and SessionMiddleware, so the flash message and the session
    cookie are stored on the answer given.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.method == "POST"
            and request.headers.get(SUBMIT_HEADER) == "1"
            and response.status_code in (301, 302, 303, 307, 308)
        ):
            answer = HttpResponse(status=204)
            answer.cookies = response.cookies
            answer[SUBMIT_LOCATION_HEADER] = response["Location"]
            if is_login_redirect(response):
                answer[SUBMIT_LOGIN_HEADER] = "1"
            answer["Cache-Control"] = "no-store"
            return answer
        return response


def client_ip(request) -> str | None:
    """The address django-axes counts login failures against.

    Behind the load balancer every request arrives from the balancer's address, so counting by
    REMOTE_ADDR would lock a user out for the whole hospital after one attacker's guesses. The
    balancer appends the address it saw to X-Forwarded-For; we take that last entry, the only
    one a client cannot forge (entries to its left are whatever the client sent). Without
    DJANGO_BEHIND_PROXY the header is ignored: a client could then choose its own address.
    """
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR")
