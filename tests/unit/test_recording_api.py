"""docs/recording-api.md is the one place the public recording API is documented: every
function it lists exists in ``monitoring.services`` with exactly the keywords it lists, in
order, with the defaults it shows (issue 10: keep the keyword names, add new ones with
defaults, document them in one place)."""

import inspect
import re
from pathlib import Path

import pytest

from monitoring import services

DOC = Path(__file__).resolve().parents[2] / "docs" / "recording-api.md"
ROW = re.compile(r"^\| `(?P<name>\w+)` \| (?P<keywords>[^|]+) \|", re.MULTILINE)


def documented() -> dict[str, list[str]]:
    rows = {}
    for match in ROW.finditer(DOC.read_text(encoding="utf-8")):
        rows[match["name"]] = re.findall(r"`([^`]+)`", match["keywords"])
    return rows


def signature_words(function) -> list[str]:
    words = []
    for parameter in inspect.signature(function).parameters.values():
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, parameter  # keyword-only API
        if parameter.default is inspect.Parameter.empty:
            words.append(parameter.name)
        else:
            words.append(f"{parameter.name}={parameter.default!r}".replace("'", '"'))
    return words


def test_the_page_lists_the_write_paths_the_issue_names():
    assert {
        "record_check",
        "record_treatment",
        "amend_record",
        "mark_entered_in_error",
        "confirm_grade",
    } <= set(documented())


@pytest.mark.parametrize("name", sorted(documented()))
def test_each_documented_function_has_exactly_the_documented_keywords(name):
    assert signature_words(getattr(services, name)) == documented()[name]
