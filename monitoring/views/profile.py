"""A person's own pages: their notification centre, their profile (channels, browsers for
Web Push, a test notification), and the push service worker the browser installs.

Everyone who can receive notifications (every role but the wall display) has them; a user only
ever sees their own notifications (``access.get_notification_for``: anyone else's is a 404).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language_from_request, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from monitoring import notification_centre as centre
from monitoring.access import get_notification_for, requires
from monitoring.forms.profile import ChannelsForm, LanguageForm, RemoveBrowserForm
from monitoring.models import User

# --- Notification centre ---------------------------------------------------------------------


@requires(User.can_receive_notifications)
@require_GET
def notification_list(request):
    """The user's notifications, newest first, 50 a page, with how each delivery went."""
    page = centre.centre_page(request.user, request.GET.get("page"))
    return render(request, "monitoring/profile/notifications.html", {"page": page})


def _back_to_list(request):
    page = request.POST.get("page", "")
    url = reverse("monitoring:notifications")
    return redirect(f"{url}?page={page}" if page.isdigit() and page.isascii() else url)


@requires(User.can_receive_notifications)
@require_POST
def notification_read(request, notification_id):
    notification = get_notification_for(request.user, notification_id)
    centre.mark_notifications_read(request.user, [notification.pk])
    return _back_to_list(request)


@requires(User.can_receive_notifications)
@require_POST
def notifications_read_all(request):
    marked = centre.mark_notifications_read(request.user, centre.ALL)
    messages.success(
        request,
        ngettext(
            "%(count)d notification marked read.", "%(count)d notifications marked read.", marked
        )
        % {"count": marked},
    )
    return _back_to_list(request)


# --- Profile ---------------------------------------------------------------------------------


@requires(User.can_receive_notifications)
def profile(request):
    """Where notifications reach the user: channels, addresses, subscribed browsers."""
    user = request.user
    form = ChannelsForm.for_user(user, request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            try:
                centre.save_channels(
                    user,
                    email=data["email"],
                    pager_id=data["pager_id"].strip(),
                    by_email=data["notify_by_email"],
                    by_push=data["notify_by_push"],
                    by_webhook=data["notify_by_webhook"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Your notification channels are saved."))
                return redirect("monitoring:profile")
        status = 400
    return render(
        request,
        "monitoring/profile/profile.html",
        {
            "form": form,
            "language_form": LanguageForm(initial={"language": user.language}),
            "unavailable": centre.unavailable_channels(),
            "browsers": list(user.push_subscriptions.order_by("-created_at")),
            "vapid_public_key": settings.VAPID_PUBLIC_KEY,
        },
        status=status,
    )


@requires(User.can_receive_notifications)
@require_POST
def profile_language(request):
    """The language the user reads cartmonitor in (pages and notifications), audited."""
    form = LanguageForm(request.POST)
    if form.is_valid():
        centre.save_language(request.user, language=form.cleaned_data["language"])
        # Answer in the new language at once: this request began in the old one.
        translation.activate(request.user.language or get_language_from_request(request))
        messages.success(request, _("Your language is saved."))
    else:
        messages.error(request, _("Choose one of the languages offered."))
    return redirect("monitoring:profile")


@requires(User.can_receive_notifications)
@require_POST
def profile_test(request):
    try:
        centre.send_test_notification(request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _(
                "Test notification sent: it is in your notifications, and each channel you "
                "chose shows there how its delivery went (the job worker sends them within "
                "seconds)."
            ),
        )
    return redirect("monitoring:profile")


def _json_body(request):
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationError(_("Send the browser's subscription as JSON.")) from None


@requires(User.can_receive_notifications)
@require_POST
def push_subscribe(request):
    """The browser's PushSubscription as JSON (static/js/push.js): 201, or 400 with why."""
    try:
        centre.subscribe_push(
            request.user,
            _json_body(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    return JsonResponse({"subscribed": True, "push": True}, status=201)


@requires(User.can_receive_notifications)
@require_POST
def push_remove(request):
    """Forget a browser: this one (JSON endpoint, from push.js) or one of the profile's list."""
    if request.content_type == "application/json":
        try:
            body = _json_body(request)
        except ValidationError as error:
            return JsonResponse({"error": " ".join(error.messages)}, status=400)
        endpoint = body.get("endpoint") if isinstance(body, dict) else None
        if not isinstance(endpoint, str) or not endpoint:
            return JsonResponse({"error": _("Say which browser (its endpoint).")}, status=400)
        removed = centre.remove_push_subscription(request.user, endpoint=endpoint[:1000])
        return JsonResponse({"removed": removed, "push": request.user.notify_by_push})
    form = RemoveBrowserForm(request.POST)
    pk = form.cleaned_data["subscription"] if form.is_valid() else None
    if pk and centre.remove_push_subscription(request.user, pk=pk):
        messages.success(request, _("That browser will no longer receive push notifications."))
        if not request.user.notify_by_push:
            messages.info(request, _("Push is off: no browser of yours is subscribed now."))
    return redirect("monitoring:profile")


# --- The push service worker -----------------------------------------------------------------


@login_not_required  # a script with no data; the browser fetches it to install the worker
@require_GET
def service_worker(request):
    """static/js/sw.js served from the site's root, so its scope may be the whole site."""
    script = Path(finders.find("js/sw.js")).read_bytes()
    response = HttpResponse(script, content_type="application/javascript")
    response["Cache-Control"] = "no-cache"  # a new release's worker is picked up at once
    response["Service-Worker-Allowed"] = "/"
    return response
