"""Choice labels in the reader's language, translated once per language rather than per call."""

from __future__ import annotations

import functools

from django.db import models
from django.utils import translation


@functools.lru_cache(maxsize=64)
def _labels(choices: type[models.Choices], language: str | None) -> dict:
    with translation.override(language):
        return {value: str(label) for value, label in choices.choices}


def choice_label(choices: type[models.Choices], value):
    """``value``'s label in the active language, as Django's ``get_FOO_display`` gives it (the
    value itself when it is not a choice).

    Django's ``get_FOO_display`` builds the field's whole choices mapping on every call, which
    translates every label of it: ~0.3 ms for Flag.kind. A board page of 50 patients called it
    some 600 times (each flag's kind and severity), a third of the page's time.
    """
    return _labels(choices, translation.get_language()).get(value, value)
