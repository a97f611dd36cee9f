import uuid
from datetime import timedelta
from functools import lru_cache

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext

from monitoring import notification_centre
from monitoring.access import visible_courses
from monitoring.board import patients_with_unacknowledged_flags
from monitoring.display import DASH, dash
from monitoring.dosing import moment_words
from monitoring.models import Flag, TherapyProduct
from monitoring.models.courses import day_label
from monitoring.reasons import dose_warning as _dose_warning
from monitoring.reasons import render, render_all
from monitoring.schedule import duration_words as _duration_words
from monitoring.timeline import DEFAULT_WINDOWS, age_text

register = template.Library()

# Stands for a patient's id in a URL reversed once (a real id is random, never all zeros).
_ANY_ID = str(uuid.UUID(int=0))


@lru_cache(maxsize=128)
def _url_with_any_id(name: str, prefix: str, urlconf) -> str:
    return reverse(name, args=[_ANY_ID], urlconf=urlconf)


@register.simple_tag
def patient_url(name: str, public_id) -> str:
    """``{% url name public_id %}`` for a page that links every row to its patient: the URL
    is reversed once (per deployment prefix) and the id put in, not resolved again for each
    of 50 rows (reversing was a fifth of a worklist page's rendering; issue 16)."""
    return _url_with_any_id(name, get_script_prefix(), get_urlconf()).replace(
        _ANY_ID, str(public_id)
    )


@register.filter
def reason(value) -> str:
    """A stored grade reason (code and parameters, or an old row's text) in the reader's
    language (monitoring/reasons.py)."""
    return render(value)


@register.filter
def dose_warning(warning) -> str:
    """A tocilizumab dose warning in the reader's language (monitoring/reasons.py)."""
    return _dose_warning(warning)


@register.filter
def reasons(values) -> list[str]:
    """Each of a list of stored grade reasons, as text in the reader's language."""
    return render_all(values)


GRADE_CLASSES = {
    0: "text-bg-success",
    1: "text-bg-warning",
    2: "text-bg-orange",
    3: "text-bg-danger",
    4: "text-bg-dark",
}
SEVERITY_CLASSES = {
    1: "text-bg-secondary",
    2: "text-bg-warning",
    3: "text-bg-orange",
    4: "text-bg-danger",
}
# The "what to do now" box: urgent and critical alike call the physician now (flag_rules).
ALERT_CLASSES = {
    Flag.Severity.WARNING: "alert-warning",
    Flag.Severity.URGENT: "alert-danger",
    Flag.Severity.CRITICAL: "alert-danger",
}


@register.simple_tag
def grade_badge(label, grade, needs_review=False):
    """A coloured badge 'CRS 2'; '—' when not assessed; '?' when a clinician must confirm."""
    if grade in (None, ""):  # "" when the course has no status row yet
        return format_html('<span class="badge text-bg-light border">{} —</span>', label)
    review = "?" if needs_review else ""
    title = "needs clinician review" if needs_review else f"{label} grade {grade}"
    # A low grade a clinician must still confirm is never shown in reassuring green.
    colour = GRADE_CLASSES[1] if needs_review and grade < 2 else GRADE_CLASSES[grade]
    return format_html(
        '<span class="badge grade-badge {}" title="{}">{} {}{}</span>',
        colour,
        title,
        label,
        grade,
        review,
    )


register.filter("dash", dash)  # {{ value|dash }}: "—" when there is none (monitoring.display)


@register.filter
def severity_class(severity):
    return SEVERITY_CLASSES.get(severity, "text-bg-light")


@register.filter
def alert_class(severity):
    """The alert colour of a severity (GradeSnapshot.alert_severity); green when none."""
    return ALERT_CLASSES.get(severity, "alert-success")


@register.simple_tag
def day_number(course, at=None):
    """D+n of a moment of the course (TreatmentCourse.day_label)."""
    return course.day_label(at)


@register.filter(name="day_label")
def day_label_filter(day):
    """D+n of a day number already computed (e.g. the registry summary's onset day)."""
    return "" if day in (None, "") else day_label(day)


@register.filter
def plural_count(value) -> int:
    """The whole number ``{% blocktranslate count %}`` chooses a plural by, for a number
    that may have a fraction ("1.5 days"): Python's gettext takes integers (a float warns
    "Plural value must be an integer" and is to become an error). A whole number is itself;
    a fraction counts as many, the plural English and Spanish use for it ("0.5 days",
    "1,5 días")."""
    number = float(value)
    return int(number) if number.is_integer() else 2


@register.simple_tag
def neuro_age(course, status, now=None):
    """How old the neuro assessment the ICANS grade stands on is, now ("neuro 7 h ago"); marked
    stale past the protocol's neuro window (ProtocolVersion.neuro_valid_minutes)."""
    assessed = getattr(status, "last_neuro_at", None)
    if assessed is None:
        return format_html(
            '<span class="small text-muted">{}</span>', gettext("no neuro check yet")
        )
    now = now or timezone.now()
    version = course.protocol_version
    window = version.windows().neuro if version else DEFAULT_WINDOWS.neuro
    age = render(age_text(max(now - assessed, timedelta(0))).as_json())
    if now - assessed > window:
        return format_html(
            '<span class="small text-danger fw-semibold" title="assessed {}">neuro {} ago — '
            "stale</span>",
            timezone.localtime(assessed).strftime("%Y-%m-%d %H:%M"),
            age,
        )
    return format_html(
        '<span class="small text-muted" title="assessed {}">neuro {} ago</span>',
        timezone.localtime(assessed).strftime("%Y-%m-%d %H:%M"),
        age,
    )


# --- Protocols and corrections ---------------------------------------------------------------


@register.filter
def minutes_words(minutes):
    """240 -> "4 h", 1440 -> "1 day", 90 -> "1 h 30 min": protocol intervals for people."""
    if minutes in (None, ""):
        return DASH
    minutes = int(minutes)
    days, rest = divmod(minutes, 24 * 60)
    if days and not rest:
        return f"{days} day{'s' if days > 1 else ''}"
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


@register.simple_tag
def schedule_words(schedule):
    """One protocol schedule in plain words, e.g. "every 4 h; every 2 h with fever (any CRS
    grade); every 1 h while CRS grade ≥ 2"."""
    text = f"every {minutes_words(schedule.interval_minutes)}"
    if schedule.febrile_interval_minutes:
        text += (
            f"; every {minutes_words(schedule.febrile_interval_minutes)} with fever (any CRS grade)"
        )
    conditions = []
    if schedule.tighten_at_crs_grade:
        conditions.append(f"CRS grade ≥ {schedule.tighten_at_crs_grade}")
    if schedule.tighten_at_icans_grade:
        conditions.append(f"ICANS grade ≥ {schedule.tighten_at_icans_grade}")
    if schedule.tighten_on_neuro_change:
        conditions.append("any ICE point is lost (or CAPD ≥ 1)")
    if schedule.tightened_interval_minutes and conditions:
        text += (
            f"; every {minutes_words(schedule.tightened_interval_minutes)} while "
            + " or ".join(conditions)
        )
    return text


@register.simple_tag(takes_context=True)
def product_labels(context, codes):
    """A protocol version's product codes, e.g. "axi-cel (Yescarta), teclistamab (Tecvayli)";
    none means every product. The brands are read once per page (one query, and none when no
    version names a product)."""
    if not codes:
        return gettext("every product")
    brands = context.render_context.get("_product_brands")
    if brands is None:
        brands = dict(TherapyProduct.objects.values_list("code", "brand"))
        context.render_context["_product_brands"] = brands
    return ", ".join(f"{code} ({brands[code]})" if brands.get(code) else code for code in codes)


@register.filter
def duration_words(delta):
    """A timedelta as "1 h 05 min" (schedule.duration_words), for overdue checks."""
    return _duration_words(delta) if delta is not None else ""


# --- Care team ------------------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def open_flag_count(context):
    """Patients on the user's units with a flag nobody has acknowledged, for the navigation
    bar's board link: one query per page."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return None
    return patients_with_unacknowledged_flags(visible_courses(user))


@register.simple_tag(takes_context=True)
def unread_notification_count(context):
    """The bell's number of unread notifications, for those who get any: one query per page
    (kept on the request, so the notification centre asks it again for free)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.can_receive_notifications:
        return None
    if not hasattr(request, "_unread_notifications"):
        request._unread_notifications = notification_centre.unread_count(user)
    return request._unread_notifications


@register.filter
def grade_class(grade):
    """The badge colour of a grade, for grid cells and legends ("" when not graded)."""
    return GRADE_CLASSES.get(grade, "")


@register.filter(name="zip")
def zip_filter(labels, values):
    """``{% for label, value in labels|zip:values %}``: a table row's cells beside their column
    headings (a stacked table's data-label on a phone)."""
    return zip(labels, values, strict=False)


@register.filter
def when_words(value, now=None) -> str:
    """A time someone at home plans by: "22:44 today", "06:44 tomorrow", else with its date
    (``dosing.moment_words``, as the worklist's dose windows say it) — not a bare weekday,
    which on a Friday reads "Friday 22:44" as next week's."""
    if value is None:
        return ""
    return moment_words(value, now or timezone.now())
