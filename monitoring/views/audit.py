"""The audit log: who did what to which patient, and when — every change and every export."""

from django.core.paginator import Paginator
from django.shortcuts import render

from monitoring.access import requires
from monitoring.forms.audit import AuditLogFilterForm
from monitoring.models import AuditEvent, User

AUDIT_PAGE_SIZE = 50


@requires(User.can_view_audit_log)
def audit_log(request):
    """Newest first, filtered by user, patient MRN, action and date range (local dates)."""
    form = AuditLogFilterForm(request.GET or None)
    events = AuditEvent.objects.select_related("user", "patient").order_by("-at", "-pk")
    if form.is_bound and not form.is_valid():
        # Never show an unfiltered log as if it were the filtered one.
        return render(
            request, "monitoring/audit/log.html", {"form": form, "page": None}, status=400
        )
    if form.is_bound:
        events = form.filter(events)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "monitoring/audit/log.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
        },
    )
