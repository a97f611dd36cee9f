from django import template
from django.utils.html import format_html

register = template.Library()

GRADE_CLASSES = {0: "text-bg-success", 1: "text-bg-warning", 2: "text-bg-orange",
                 3: "text-bg-danger", 4: "text-bg-dark"}
SEVERITY_CLASSES = {1: "text-bg-secondary", 2: "text-bg-warning", 3: "text-bg-orange",
                    4: "text-bg-danger"}


@register.simple_tag
def grade_badge(label, grade, needs_review=False):
    """A coloured badge 'CRS 2'; '—' when not assessed; '?' when a clinician must confirm."""
    if grade in (None, ""):  # "" when the course has no status row yet
        return format_html('<span class="badge text-bg-light border">{} —</span>', label)
    review = "?" if needs_review else ""
    title = "needs clinician review" if needs_review else f"{label} grade {grade}"
    return format_html('<span class="badge grade-badge {}" title="{}">{} {}{}</span>',
                       GRADE_CLASSES[grade], title, label, grade, review)


@register.filter
def severity_class(severity):
    return SEVERITY_CLASSES.get(severity, "text-bg-light")


@register.simple_tag
def day_number(course, at=None):
    """D+n: calendar days since the infusion date (day 0) in the configured zone."""
    n = course.day_number(at)
    return f"D+{n}" if n >= 0 else f"D{n}"
