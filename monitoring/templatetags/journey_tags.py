"""The phase of a course's treatment journey, for the worklist and board rows."""

from django import template

from monitoring import journey

register = template.Library()


@register.simple_tag
def journey_phase(course) -> str:
    """The phase's label; free for courses under monitoring (the rows of the worklist and the
    board), one query for any other course (journey.phase_of)."""
    return journey.phase_label(course)
