"""Reasons are codes with parameters (stored as JSON, rendered in each reader's language) that
still read as their English text; tests/web/test_translations.py covers the rendering."""

import copy
import json
import pickle

import pytest

from monitoring.grading import CRSInputs, ICANSInputs, Reason, grade_crs, grade_icans
from monitoring.grading.reasons import ENGLISH, to_json


def test_a_reason_is_its_english_text_and_carries_its_code():
    reason = Reason("crs.hypoxia_flow", device=Reason("device.low_flow"), flow=4.0)

    assert reason == "hypoxia on low-flow oxygen 4 L/min"
    assert reason.code == "crs.hypoxia_flow"
    assert reason.as_json() == {
        "code": "crs.hypoxia_flow",
        "params": {"device": {"code": "device.low_flow", "params": {}}, "flow": 4.0},
    }


def test_a_graded_result_stores_as_json_with_nested_findings():
    result = grade_crs(CRSInputs(temperature_c=38.6, oxygen="facemask"))

    stored = json.loads(json.dumps(to_json(result.reasons)))

    assert stored[0] == {
        "code": "crs.finding_grade",
        "params": {
            "finding": {
                "code": "crs.hypoxia",
                "params": {"device": {"code": "device.facemask", "params": {}}},
            },
            "grade": 3,
        },
    }
    assert stored[1]["params"]["fever"] == {
        "code": "crs.fever",
        "params": {"temperature_c": 38.6},
    }


def test_a_list_parameter_reads_as_a_list_and_stores_each_item():
    result = grade_icans(ICANSInputs(ice_score=10))

    assert result.reasons[0].startswith("ICE 10/10, alert, no seizure")
    findings = to_json(result.reasons[0])["params"]["findings"]
    assert [f["code"] for f in findings] == [
        "icans.ice",
        "icans.consciousness.alert",
        "icans.seizure.none",
        "icans.motor.none",
        "icans.edema.none",
    ]


def test_plain_text_and_numbers_are_stored_as_they_are():
    assert to_json("SBP 84 mmHg") == "SBP 84 mmHg"
    assert to_json(3) == 3


def test_a_copied_or_pickled_reason_keeps_its_code():
    reason = Reason("icans.ice", score=6, maximum=10)

    for clone in (copy.deepcopy(reason), pickle.loads(pickle.dumps(reason))):
        assert clone == "ICE 6/10"
        assert clone.code == "icans.ice"
        assert clone.params == {"score": 6, "maximum": 10}


def test_an_unknown_code_is_refused():
    with pytest.raises(KeyError):
        Reason("crs.no_such_code")


def test_every_template_formats_with_the_parameters_it_names():
    """Each English template can be filled: a typo in a placeholder would fail at grading."""
    import string

    for code, template in ENGLISH.items():
        fields = [
            (field, spec) for _, field, spec, _ in string.Formatter().parse(template) if field
        ]
        # A whole-number placeholder ("{minutes:02d}") takes an int; every other one a float.
        values = {name: 7 if spec.endswith("d") else 1.5 for name, spec in fields}
        assert Reason(code, **values), code
