"""The wall display: a shared screen's board, under its own login (User.Role.DISPLAY accounts,
created by admins in the Django admin; the account's units decide what it shows).

Read-only, and it shows no patient identifiers: no name, no MRN, no date of birth — only the
unit, the bed, what is wrong and how long it has waited, which the whole ward may see. (A
per-unit setting to show more is not provided.) It refreshes itself every 30 s like the board;
unlike a person's session, a display's stays logged in while it polls
(cartmonitor.middleware.IdleSessionMiddleware), and it idles out once the screen stops asking.
"""

from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from monitoring import board
from monitoring.access import requires, visible_courses, visible_units
from monitoring.models import User


@requires(User.can_view_wall_display)
def wall_display(request):
    """The display's units' patients with an unresolved flag or an overdue check, in the
    board's order; the first page of them (a wall is not paged through)."""
    now = timezone.now()
    listed = board.board_courses(visible_courses(request.user), now=now)
    shown = board.rows(board.page_of(listed[: board.PAGE_SIZE]), now=now, failures=False)
    context = {
        "rows": shown,
        "more": max(listed.count() - len(shown), 0) if len(shown) == board.PAGE_SIZE else 0,
        "units": visible_units(request.user),
        "worker_delay": board.worker_delay_text(now),
        "now": now,
    }
    template = "_display.html" if request.htmx else "display.html"
    response = render(request, f"monitoring/wall/{template}", context)
    patch_vary_headers(response, ["HX-Request"])
    return response
