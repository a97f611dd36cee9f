"""Every page of the app a user can open, for browser tests that walk them all (axe, layout).

The test client decides which pages a role opens (the same GET the browser would make), so a
new page joins the walk without editing a list: it only has to answer a full HTML page.
"""

from django.test import Client
from django.urls import NoReverseMatch

from tests.routes import PUBLIC_PAGES, monitoring_routes, url_of


def is_full_page(response) -> bool:
    """A whole HTML document (not an htmx fragment, a CSV, JSON or FHIR export, a redirect)."""
    return (
        response.status_code == 200
        and response.get("Content-Type", "").startswith("text/html")
        and b"<html" in response.content[:500].lower()
    )


def pages_for(user, sample: dict) -> list[str]:
    """The URLs of every page of the URLconf (``tests.routes``) that ``user`` opens as a full
    HTML page, with ``sample``'s objects (``route_sample``) in their URLs; in URLconf order."""
    client = Client()
    client.force_login(user)
    urls = []
    for route in monitoring_routes():
        if route.name in PUBLIC_PAGES:
            continue
        try:
            url = url_of(route, sample)
        except (KeyError, NoReverseMatch):  # a route naming an object the sample lacks
            continue
        if is_full_page(client.get(url)):
            urls.append(url)
    return urls
