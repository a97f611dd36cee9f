"""CRS grading by the ASTCT 2019 consensus (clinical reference §1). No database, no settings."""

import dataclasses

import pytest

from monitoring.grading import RULE_VERSION, CRSInputs, CRSResult, Oxygen, grade_crs

FEVER = 38.4  # any temperature >= 38.0 °C; the value never changes the grade (ref §1.2.4)


def graded(**inputs) -> CRSResult:
    result = grade_crs(CRSInputs(**inputs))
    # needs_review and review_reasons must always agree.
    assert result.needs_review == bool(result.review_reasons)
    return result


# --- Fever criterion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature_c", "grade"),
    [
        (37.9, 0),  # ref §1.2.1 [V: S2a, S3]: just below 38 is no fever
        (38.0, 1),  # ref §1.2.1: "≥38 °C", so 38.0 itself is fever
        (38, 1),  # ref §1.2.1: a whole-number reading works the same
        (38.4, 1),  # ref §1.1 [V: S2a]: fever alone is grade 1
        (40.5, 1),  # ref §1.2.4 [V: S2a, S2b]: a higher fever does not escalate
        (None, 0),  # not measured: the fever criterion is not met
    ],
    ids=["37.9", "38.0", "38-int", "38.4", "40.5", "not-measured"],
)
def test_fever_is_38_0_or_more_inclusive(temperature_c, grade):
    assert graded(temperature_c=temperature_c).grade == grade


@pytest.mark.parametrize(
    "extra",
    [
        {},  # fever alone, grade 1
        {"hypotension": True},  # grade 2
        {"oxygen": "facemask"},  # grade 3
        {"vasopressors": 2},  # grade 4
    ],
    ids=["fever-alone", "hypotension", "facemask", "two-pressors"],
)
def test_the_temperature_value_never_changes_the_grade(extra):
    # ref §1.2.4 [V: S2a, S2b]: 40.5 °C grades the same as 38.0 °C.
    assert graded(temperature_c=38.0, **extra).grade == graded(temperature_c=40.5, **extra).grade


def test_masked_fever_meets_the_fever_criterion():
    # ref §1.2.2 [V: S2a]: after antipyretic/anti-cytokine therapy fever is no longer required.
    result = graded(
        temperature_c=36.9, fever_earlier=True, fever_masking_therapy=True, hypotension=True
    )
    assert result.grade == 2
    assert result.domains["fever"] == 1
    assert "fever masked by antipyretic/anti-cytokine therapy" in result.reasons[1]
    assert not result.needs_review


@pytest.mark.parametrize(
    "temperature_c",
    [36.9, None],  # ref §1.2.2: masked fever does not need a current temperature
    ids=["afebrile", "not-measured"],
)
def test_masked_fever_alone_is_grade_1_for_review(temperature_c):
    # ref §1.5.4: masked fever without hypotension or hypoxia: is CRS ongoing? Clinical call.
    result = graded(temperature_c=temperature_c, fever_earlier=True, fever_masking_therapy=True)
    assert result.grade == 1
    assert result.reasons[0].startswith("fever masked by antipyretic/anti-cytokine therapy")
    assert result.needs_review
    assert "§1.5.4" in result.review_reasons[0]


def test_no_fever_is_no_crs_even_with_hypoxia_and_hypotension():
    # ref §1.4 [V: S2a]: "if not (fever_now or masked): CRS = 0".
    result = graded(temperature_c=37.2, vasopressors=2, oxygen="bipap")
    assert result.grade == 0
    assert result.reasons[0] == (
        "no fever (37.2 °C) and no masked fever → no CRS: ASTCT requires fever"
    )
    assert "grade 4 if the fever criterion were met" in result.reasons[1]
    assert not result.needs_review
    assert result.decided_by == ()


@pytest.mark.parametrize(
    ("inputs", "needs_review", "cited"),
    [
        # ref §1.5.2: fever earlier, afebrile now without therapy, still hypotensive.
        ({"fever_earlier": True, "hypotension": True}, True, "§1.5.2"),
        # ref §1.5.2 with hypoxia at the grade-2 level (low flow).
        ({"fever_earlier": True, "oxygen": "low_flow", "oxygen_flow_l_min": 2}, True, "§1.5.2"),
        # ref §1.5.3: premedication or prophylactic tocilizumab, no documented fever.
        ({"fever_masking_therapy": True, "vasopressors": 1}, True, "§1.5.3"),
        ({"fever_masking_therapy": True, "oxygen": "blow_by"}, True, "§1.5.3"),
        # ref §1.5.1 counts vasopressin alone as grade-3 level, so it also triggers review.
        ({"fever_earlier": True, "vasopressin": True}, True, "§1.5.2"),
        # ref §1.5.2/§1.5.3 without hypotension or hypoxia: plain grade 0, nothing to review.
        ({"fever_earlier": True}, False, None),
        ({"fever_masking_therapy": True}, False, None),
        # Positive pressure for airway protection only is not hypoxia (ref §1.2.8): no review.
        (
            {"fever_earlier": True, "oxygen": "cpap", "airway_protection_only": True},
            False,
            None,
        ),
    ],
    ids=[
        "defervescence-hypotension",
        "defervescence-low-flow",
        "therapy-without-fever-pressor",
        "therapy-without-fever-blow-by",
        "defervescence-vasopressin-alone",
        "defervescence-alone",
        "therapy-without-fever-alone",
        "defervescence-airway-only",
    ],
)
def test_afebrile_cases_the_criteria_do_not_settle_need_review(inputs, needs_review, cited):
    result = graded(temperature_c=37.0, **inputs)
    assert result.grade == 0  # the grade stays 0: only a clinician can say otherwise
    assert result.needs_review is needs_review
    if cited:
        assert cited in result.review_reasons[0]


def test_missing_temperature_with_hypotension_needs_review():
    # ref §1.2.1: without a temperature the fever criterion cannot be checked; grade stays 0.
    result = graded(temperature_c=None, vasopressors=1)
    assert result.grade == 0
    assert result.reasons[0].startswith("no current temperature and no masked fever")
    assert result.needs_review
    assert "no current temperature" in result.review_reasons[0]


def test_afebrile_review_also_lists_the_open_domain_question():
    # ref §1.5.2 plus §1.5.5: both open questions reach the clinician.
    result = graded(temperature_c=37.0, fever_earlier=True, oxygen="low_flow")
    assert len(result.review_reasons) == 2
    assert "§1.5.5" in result.review_reasons[1]


# --- Hypotension domain ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vasopressors", "vasopressin", "hypotension", "grade", "needs_review"),
    [
        (2, False, False, 4, False),  # ref §1.1 [V: S2a, S2b]: multiple vasopressors
        (3, True, True, 4, False),  # ref §1.1: more than two is still grade 4
        (1, False, False, 3, False),  # ref §1.1: a running vasopressor grades whatever the SBP
        (1, False, True, 3, False),  # ref §1.1: one vasopressor
        (1, True, True, 3, False),  # ref §1.2.7 [V: S2a, S2e]: "with or without vasopressin"
        (0, True, False, 3, True),  # ref §1.5.1: vasopressin alone, literal reading, review
        (0, True, True, 3, True),  # ref §1.5.1: the hypotension flag changes nothing here
        (0, False, True, 2, False),  # ref §1.1: hypotension not requiring vasopressors
        (0, False, False, 1, False),  # ref §1.1: no hypotension, fever alone
    ],
    ids=[
        "two-pressors",
        "three-pressors-vasopressin",
        "one-pressor-normal-sbp",
        "one-pressor",
        "one-pressor-plus-vasopressin",
        "vasopressin-alone",
        "vasopressin-alone-hypotensive",
        "hypotension-no-pressor",
        "none",
    ],
)
def test_hypotension_is_graded_by_the_treatment_it_needs(
    vasopressors, vasopressin, hypotension, grade, needs_review
):
    result = graded(
        temperature_c=FEVER,
        vasopressors=vasopressors,
        vasopressin=vasopressin,
        hypotension=hypotension,
    )
    assert result.grade == grade
    assert result.domains["hypotension"] == (0 if grade == 1 else grade)
    assert result.needs_review is needs_review


def test_vasopressin_never_counts_toward_multiple():
    # ref §1.2.7 [V: S2a, S2e]: one vasopressor plus vasopressin is grade 3, not grade 4.
    result = graded(temperature_c=FEVER, vasopressors=1, vasopressin=True)
    assert result.grade == 3
    assert result.reasons[0] == (
        "one vasopressor plus vasopressin (not counted toward multiple) → grade 3"
    )


def test_vasopressin_alone_cites_the_open_case():
    result = graded(temperature_c=FEVER, vasopressin=True)  # ref §1.5.1
    assert result.reasons[0] == "vasopressin alone, read as one vasopressor → grade 3"
    assert "§1.5.1" in result.review_reasons[0]


# --- Hypoxia domain -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oxygen", "flow", "airway_only", "hypoxia", "needs_review"),
    [
        ("room_air", None, False, 0, False),  # ref §1.1: no oxygen, no hypoxia grade
        ("blow_by", None, False, 2, False),  # ref §1.2.6 [V: S2e, S7b]: blow-by is low flow
        ("blow_by", 6.0, False, 2, False),  # ref §1.2.6: blow-by within the low-flow range
        ("blow_by", 8.0, False, 3, True),  # ref §1.5.5: blow-by above 6 L/min, review
        ("low_flow", 0.5, False, 2, False),  # ref §1.2.6 [V: S2a, S2b]: ≤ 6 L/min
        ("low_flow", 6.0, False, 2, False),  # ref §1.2.6: 6.0 L/min is still low flow
        ("low_flow", 6.5, False, 3, False),  # ref §1.2.6: 6.5 L/min is high flow
        ("low_flow", None, False, 2, True),  # ref §1.5.5: flow not recorded, review
        ("high_flow", 40.0, False, 3, False),  # ref §1.1 [V: S2a]: high-flow nasal cannula
        ("high_flow", None, False, 3, False),  # ref §1.1: the device alone is grade 3
        ("high_flow", 4.0, False, 3, True),  # ref §1.2.6: device and flow disagree, review
        ("facemask", None, False, 3, False),  # ref §1.2.6 [V: S2a, S3]: any flow
        ("facemask", 2.0, False, 3, False),  # ref §1.2.6: even at low flow
        ("nonrebreather", 15.0, False, 3, False),  # ref §1.1 [V: S2a]
        ("venturi", 4.0, False, 3, False),  # ref §1.2.6 [V: S2a, S3]
        ("cpap", None, False, 4, False),  # ref §1.1 [V: S2a]: positive pressure
        ("bipap", None, False, 4, False),  # ref §1.1: positive pressure
        ("mechanical_ventilation", None, False, 4, False),  # ref §1.1: intubation
        ("mechanical_ventilation", None, True, 0, True),  # ref §1.2.8 [M], §1.5.6: airway only
        ("cpap", 10.0, True, 0, True),  # ref §1.2.8, §1.5.6: e.g. CPAP for a procedure
    ],
    ids=[
        "room-air",
        "blow-by",
        "blow-by-6",
        "blow-by-8",
        "low-flow-0.5",
        "low-flow-6.0",
        "low-flow-6.5",
        "low-flow-no-flow",
        "high-flow-40",
        "high-flow-no-flow",
        "high-flow-4",
        "facemask",
        "facemask-2",
        "nonrebreather",
        "venturi",
        "cpap",
        "bipap",
        "ventilated",
        "ventilated-airway-only",
        "cpap-airway-only",
    ],
)
def test_hypoxia_is_graded_by_device_and_flow(oxygen, flow, airway_only, hypoxia, needs_review):
    result = graded(
        temperature_c=FEVER,
        oxygen=oxygen,
        oxygen_flow_l_min=flow,
        airway_protection_only=airway_only,
    )
    assert result.domains["hypoxia"] == hypoxia
    assert result.grade == max(hypoxia, 1)  # fever alone is grade 1
    assert result.needs_review is needs_review


@pytest.mark.parametrize(
    ("inputs", "grade", "decided_by"),
    [
        # ref §1.2.8 [M], §1.5.6: positive pressure only to protect the airway is not hypoxia;
        # the grade comes from fever and hypotension (ref §1.2.3), and a clinician confirms.
        ({"oxygen": "mechanical_ventilation"}, 1, ("fever",)),
        ({"oxygen": "bipap", "hypotension": True}, 2, ("hypotension",)),
        ({"oxygen": "mechanical_ventilation", "vasopressors": 1}, 3, ("hypotension",)),
        ({"oxygen": "cpap", "vasopressors": 2}, 4, ("hypotension",)),
    ],
    ids=["fever-only", "fluid-responsive-hypotension", "one-vasopressor", "two-vasopressors"],
)
def test_airway_protection_grades_by_fever_and_hypotension_for_review(inputs, grade, decided_by):
    result = graded(temperature_c=FEVER, airway_protection_only=True, **inputs)

    assert result.grade == grade
    assert result.decided_by == decided_by
    assert result.domains["hypoxia"] == 0
    assert result.needs_review
    assert "(ref §1.2.8, §1.5.6)" in result.review_reasons[-1]
    assert any("for airway protection or a procedure only" in r for r in result.reasons)


@pytest.mark.parametrize(
    ("inputs", "first_reason"),
    [
        # The wording nurses read; the first reason names the criterion that decided.
        (
            {"oxygen": "low_flow", "oxygen_flow_l_min": 4.0},
            "hypoxia on low-flow oxygen 4 L/min → grade 2",
        ),
        (
            {"oxygen": "low_flow", "oxygen_flow_l_min": 6.5},
            "hypoxia on low-flow oxygen 6.5 L/min, more than 6 L/min is high flow → grade 3",
        ),
        ({"oxygen": "nonrebreather"}, "hypoxia on non-rebreather mask → grade 3"),
        ({"oxygen": "bipap"}, "hypoxia on BiPAP (positive pressure) → grade 4"),
        ({"hypotension": True}, "hypotension not requiring vasopressors → grade 2"),
        ({"vasopressors": 2}, "multiple vasopressors (2; vasopressin not counted) → grade 4"),
        ({}, "fever 38.4 °C → grade 1"),
    ],
    ids=["low-flow", "low-flow-high", "nonrebreather", "bipap", "hypotension", "pressors", "fever"],
)
def test_the_first_reason_names_the_deciding_criterion(inputs, first_reason):
    assert graded(temperature_c=FEVER, **inputs).reasons[0] == first_reason


def test_airway_protection_ventilation_is_shown_but_not_counted():
    # ref §1.2.8 [M], §1.5.6: fever plus ventilation only for airway protection.
    result = graded(
        temperature_c=FEVER, oxygen="mechanical_ventilation", airway_protection_only=True
    )
    assert result.grade == 1
    assert result.reasons[-1] == (
        "mechanical ventilation for airway protection or a procedure only, not counted as hypoxia"
    )
    assert "§1.5.6" in result.review_reasons[0]


# --- The worse domain decides ---------------------------------------------------------------


def test_astct_example_fever_one_vasopressor_and_low_flow_is_grade_3():
    # ref §1.2.3 [V: S2a]: "fever, one vasopressor and low-flow nasal cannula is grade 3".
    result = graded(temperature_c=FEVER, vasopressors=1, oxygen="low_flow", oxygen_flow_l_min=4.0)
    assert result.grade == 3
    assert result.reasons == (
        "one vasopressor → grade 3",
        "hypoxia on low-flow oxygen 4 L/min → grade 2",
        "fever 38.4 °C: ASTCT fever criterion met",
    )
    assert result.decided_by == ("hypotension",)
    assert dict(result.domains) == {"fever": 1, "hypotension": 3, "hypoxia": 2}


def test_hypoxia_decides_when_it_is_worse_than_hypotension():
    # ref §1.2.3 [V: S2a]: the more severe of hypotension and hypoxia decides.
    result = graded(temperature_c=FEVER, hypotension=True, oxygen="cpap")
    assert result.grade == 4
    assert result.decided_by == ("hypoxia",)
    assert result.reasons[0].startswith("hypoxia on CPAP")


def test_a_tie_lists_both_domains_as_deciding():
    result = graded(temperature_c=FEVER, vasopressors=1, oxygen="facemask")  # ref §1.2.3
    assert result.grade == 3
    assert result.decided_by == ("hypotension", "hypoxia")
    assert result.reasons[0] == "one vasopressor → grade 3"  # table order on a tie


def test_fever_alone_decides_grade_1():
    result = graded(temperature_c=FEVER)  # ref §1.1: grade 1 = fever, no hypotension/hypoxia
    assert result.reasons == (
        "fever 38.4 °C → grade 1",
        "no hypotension and no hypoxia needing oxygen",
    )
    assert result.decided_by == ("fever",)


def test_every_deciding_reason_names_where_its_value_came_from():
    # Issue 10 §1: "SBP 84 mmHg at 14:00, 2 h ago → grade 2". The grade itself never reads it.
    sources = {
        "fever": "at D+3 14:00, this check",
        "hypotension": "SBP 84 mmHg at D+3 12:00, 2 h old",
        "hypoxia": "low-flow since D+3 10:00",
    }
    result = graded(temperature_c=FEVER, hypotension=True, sources=sources)
    assert result.grade == graded(temperature_c=FEVER, hypotension=True).grade == 2
    assert result.reasons == (
        "hypotension not requiring vasopressors (SBP 84 mmHg at D+3 12:00, 2 h old) → grade 2",
        "fever 38.4 °C (at D+3 14:00, this check): ASTCT fever criterion met",
    )
    afebrile = graded(temperature_c=37.0, sources=sources)
    assert afebrile.reasons[0].startswith("no fever (37.0 °C at D+3 14:00, this check)")


# --- What is not an input -------------------------------------------------------------------


def test_organ_toxicity_and_symptoms_are_not_crs_inputs():
    # ref §1.2.5 [V: S3]: organ toxicity is graded by CTCAE and does not change the CRS grade;
    # ref §0: fatigue, headache and tremor are not grading elements.
    names = {f.name for f in dataclasses.fields(CRSInputs)}
    assert names == {
        "temperature_c",
        "fever_earlier",
        "fever_masking_therapy",
        "hypotension",
        "vasopressors",
        "vasopressin",
        "oxygen",
        "oxygen_flow_l_min",
        "airway_protection_only",
        "sources",  # provenance text only: where each finding came from
    }
    for symptom in ("organ", "toxicity", "creatinine", "fatigue", "headache", "tremor", "spo2"):
        assert not any(symptom in name for name in names)


# --- Inputs: defaults, coercion, validation -------------------------------------------------


def test_every_field_has_a_sensible_default():
    inputs = CRSInputs()
    assert dataclasses.asdict(inputs) == {
        "temperature_c": None,
        "fever_earlier": False,
        "fever_masking_therapy": False,
        "hypotension": False,
        "vasopressors": 0,
        "vasopressin": False,
        "oxygen": Oxygen.ROOM_AIR,
        "oxygen_flow_l_min": None,
        "airway_protection_only": False,
        "sources": {},
    }
    assert grade_crs(inputs).grade == 0


def test_plain_strings_become_oxygen_members():
    inputs = CRSInputs(oxygen="high_flow")
    assert inputs.oxygen is Oxygen.HIGH_FLOW
    assert inputs.oxygen == "high_flow"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"temperature_c": 24.9}, "between 25 and 45 °C"),
        ({"temperature_c": 45.1}, "between 25 and 45 °C"),
        ({"temperature_c": float("nan")}, "between 25 and 45 °C"),
        ({"temperature_c": "38.2"}, "temperature_c must be a number"),
        ({"temperature_c": True}, "temperature_c must be a number"),
        ({"vasopressors": -1}, "vasopressors must be from 0 to 10"),
        ({"vasopressors": 11}, "vasopressors must be from 0 to 10"),
        ({"vasopressors": 1.0}, "whole number from 0 to 10"),
        ({"vasopressors": True}, "whole number from 0 to 10"),
        ({"fever_earlier": 1}, "fever_earlier must be True or False"),
        ({"fever_masking_therapy": "yes"}, "fever_masking_therapy must be True or False"),
        ({"hypotension": None}, "hypotension must be True or False"),
        ({"vasopressin": 0}, "vasopressin must be True or False"),
        ({"airway_protection_only": "no"}, "airway_protection_only must be True or False"),
        ({"oxygen": "nasal_cannula"}, "oxygen must be one of room_air | blow_by | low_flow"),
        ({"oxygen": None}, "mechanical_ventilation"),
        ({"oxygen": "low_flow", "oxygen_flow_l_min": -1}, "between 0 and 80 L/min"),
        ({"oxygen": "high_flow", "oxygen_flow_l_min": 80.5}, "between 0 and 80 L/min"),
        ({"oxygen_flow_l_min": 2.0}, "must be None on room_air"),
        ({"oxygen": "low_flow", "airway_protection_only": True}, "cpap | bipap"),
    ],
    ids=[
        "temp-too-low",
        "temp-too-high",
        "temp-nan",
        "temp-string",
        "temp-bool",
        "pressors-negative",
        "pressors-absurd",
        "pressors-float",
        "pressors-bool",
        "flag-int",
        "flag-string",
        "flag-none",
        "vasopressin-int",
        "airway-string",
        "unknown-device",
        "device-none",
        "flow-negative",
        "flow-absurd",
        "flow-on-room-air",
        "airway-only-without-positive-pressure",
    ],
)
def test_invalid_inputs_raise_with_the_allowed_range(inputs, message):
    with pytest.raises(ValueError, match=message):
        CRSInputs(**inputs)


@pytest.mark.parametrize(
    "inputs",
    [
        {"temperature_c": 25.0},
        {"temperature_c": 45.0},
        {"vasopressors": 10},
        {"oxygen": "high_flow", "oxygen_flow_l_min": 80},
        {"oxygen": "low_flow", "oxygen_flow_l_min": 0},
    ],
    ids=["temp-25", "temp-45", "pressors-10", "flow-80", "flow-0"],
)
def test_range_limits_themselves_are_accepted(inputs):
    CRSInputs(**inputs)


def test_inputs_and_results_are_frozen():
    inputs = CRSInputs(temperature_c=FEVER)
    result = grade_crs(inputs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.temperature_c = 37.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.grade = 4
    with pytest.raises(TypeError):
        result.domains["hypoxia"] = 4  # read-only mapping
    assert result.rule_version == RULE_VERSION == "astct-2019.1"
    assert hash(result) == hash(grade_crs(inputs))
