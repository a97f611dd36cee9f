"""The pages for 403, 404 and 500 (and a refused CSRF check): with the navigation and a way
back, never Django's bare "Server Error".

Django renders 403.html and 404.html with the request, but 500.html without it (no user, no
navigation), on the theory that the error may be in what the context needs. So the 500 here
tries the full page first and, if that fails too (the database is what broke, say), answers
with a small static page that still says what happened and where to go. The other pages take
the same care: an error page must never be a second error.
"""

from __future__ import annotations

import logging
from html import escape

from django.http import HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)


def back_url(request) -> str:
    """The page the user came from, if it is a page of this site; "" otherwise."""
    try:
        referer = request.META.get("HTTP_REFERER", "")
        if referer and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return referer
    except Exception:  # noqa: BLE001 — a bad Host header must not break the error page
        logger.debug("No way back from this error page", exc_info=True)
    return ""


def _page(request, template: str, status: int, context: dict | None = None) -> HttpResponse:
    try:
        return render(
            request, template, {"back_url": back_url(request), **(context or {})}, status=status
        )
    except Exception:  # noqa: BLE001 — whatever failed, the user still gets a page
        logger.exception("The %s page could not be rendered; answering with the plain one", status)
        return plain_error_page(status)


def plain_error_page(status: int) -> HttpResponse:
    """A page that needs no template, no database and no user: still branded, still a way on."""
    titles = {
        403: _("You cannot open this page"),
        404: _("Page not found"),
        500: _("Something went wrong on our side"),
    }
    title = titles.get(status, _("Something went wrong on our side"))
    try:
        stylesheet = (
            f'<link rel="stylesheet" href="{escape(static("vendor/bootstrap/bootstrap.min.css"))}">'
            f'<link rel="stylesheet" href="{escape(static("css/cartmonitor.css"))}">'
        )
    except Exception:  # noqa: BLE001 — e.g. a missing static manifest
        stylesheet = ""
    try:
        home = reverse("monitoring:home")
    except Exception:  # noqa: BLE001
        home = "/"
    explanation = _(
        "The error has been logged. Nothing you saved before is affected; if you were saving "
        "a form, check whether it was saved before entering it again."
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · cartmonitor</title>{stylesheet}</head>
<body class="bg-body-tertiary">
<nav class="navbar navbar-dark bg-primary mb-3"><div class="container-fluid">
<a class="navbar-brand fw-semibold" href="{escape(home)}">cartmonitor</a></div></nav>
<main class="container-lg pb-5">
<h1 class="h3">{escape(title)}</h1>
<p>{escape(explanation)}</p>
<p><a class="btn btn-primary" href="{escape(home)}">{escape(_("Go to your start page"))}</a></p>
</main></body></html>
"""
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


@requires_csrf_token
def permission_denied(request, exception=None):
    message = str(exception) if exception is not None else ""
    return _page(request, "403.html", 403, {"message": message})


@requires_csrf_token
def page_not_found(request, exception=None):
    # The exception's text names models and queries ("No Course matches…"): not shown.
    return _page(request, "404.html", 404)


@requires_csrf_token
def server_error(request):
    return _page(request, "500.html", 500)


def csrf_failure(request, reason=""):
    """A form refused by the CSRF check, nearly always because the browser's log-in changed
    since the form was opened (someone else logged in on this device, or a log-in in another
    tab). Django's own page is bare and technical; ours says what to do."""
    return _page(request, "403_csrf.html", 403)
