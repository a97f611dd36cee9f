"""Step-up dosing on pages: the monitoring window or the next dose, from the status row."""

from django import template

from monitoring import dosing

register = template.Library()


@register.simple_tag
def dose_window_words(status, now=None):
    """ "In monitoring window after step-up dose 2 until 14:00 tomorrow" (no queries)."""
    if status is None:
        return ""
    from django.utils import timezone

    return dosing.window_words(status, now or timezone.now())
