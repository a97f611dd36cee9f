"""The error summary at the top of a form sent back with problems (WCAG 3.3.1, 2.4.3).

``{% error_summary form other_form extra_messages lead="Nothing was saved." %}`` lists every
problem of the given forms (and of plain lists of messages) as a link to its field, under
"There are N problems"; static/js/a11y.js moves focus to it when the page loads, and a
link moves focus to its field. Fields with errors carry aria-invalid and aria-describedby
pointing at their message already (Django 5.2 with crispy-bootstrap5's ``<id>_error``).
"""

from dataclasses import dataclass

from django import forms, template

register = template.Library()


@dataclass(frozen=True)
class Problem:
    text: str
    target: str = ""  # the id of the field to go to ("" for a problem of the whole form)


def field_target(bound_field) -> str:
    """The id a link should focus: the input itself, or the first of a group of radios or
    checkboxes (whose widget names no single input to label)."""
    if bound_field.is_hidden or not bound_field.auto_id:
        return ""
    return bound_field.id_for_label or f"{bound_field.auto_id}_0"


def form_problems(form) -> list[Problem]:
    if not form.is_bound:
        return []
    prefix = getattr(form, "section_title", "") or getattr(form, "label", "")
    prefix = f"{prefix} — " if isinstance(prefix, str) and prefix else ""
    problems = [Problem(f"{prefix}{error}") for error in form.non_field_errors()]
    for bound_field in form:
        for error in bound_field.errors:
            problems.append(
                Problem(f"{prefix}{bound_field.label}: {error}", field_target(bound_field))
            )
    return problems


def problems_of(sources) -> list[Problem]:
    problems = []
    for source in sources:
        if source is None or source == "":
            continue
        if isinstance(source, forms.BaseForm):
            problems.extend(form_problems(source))
        elif isinstance(source, forms.BaseFormSet):
            problems.extend(Problem(str(e)) for e in source.non_form_errors())
            problems.extend(problems_of(source.forms))
        elif isinstance(source, str):
            problems.append(Problem(source))
        else:  # a list of messages or of forms
            problems.extend(problems_of(list(source)))
    return problems


@register.inclusion_tag("monitoring/_partials/_error_summary.html")
def error_summary(*sources, lead=""):
    return {"problems": problems_of(sources), "lead": lead}
