"""How a value reads on a page or in a message, in one place (views, forms, template filters)."""

from __future__ import annotations

from django.utils.translation import gettext

DASH = "—"  # no value: not measured, not graded, not set


def dash(value) -> str:
    """A value for people: "—" when there is none, "yes"/"no" for a boolean, else its text.

    0 stays "0": a grade of 0 is a finding, not a missing value.
    """
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return str(value)
