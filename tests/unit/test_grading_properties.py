"""Property tests of the grading library: whatever a form, an import or a typo sends, grading
answers with a grade and its reasons, or refuses with a ValueError that says what is wrong.
Never another exception, never a grade outside 0-4, and a worse finding never lowers a grade.

The table-driven tests (test_crs.py, test_icans.py, ...) pin the ASTCT cells; these look for
the inputs nobody wrote a row for. No database, no settings.
"""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from monitoring.grading import (
    CerebralEdema,
    Consciousness,
    ConsciousnessCause,
    CRSInputs,
    ICANSInputs,
    MotorWeakness,
    NEWS2Risk,
    Oxygen,
    Seizure,
    grade_crs,
    grade_icans,
    hypotension_threshold_mmhg,
    is_hypotensive,
    news2,
)

# Pure functions run in microseconds: many examples are cheap.
# No example database: it would write .hypothesis/ into the work tree; failures print their
# example, and `@example(...)` pins one for good.
# No time limits: on a shared 2-core machine under load one draw once took 54 s (CI, a load
# average of 9), which is the machine's speed, not the strategy's.
many = hypothesis_settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Values a caller might send for any field: wrong types, edges, junk, enum names as strings.
# Decimals exclude signalling NaN, which raises InvalidOperation on any comparison at all.
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**308, max_value=10**400),  # beyond float range
    st.floats(),  # includes nan, inf, -0.0, subnormals
    st.decimals(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["38.5", "room air", "ROOM_AIR", "unarousable ", "", "None", "true"]),
    st.just([]),
    st.just({}),
)
POSITIVE_PRESSURE = {Oxygen.CPAP, Oxygen.BIPAP, Oxygen.MECHANICAL_VENTILATION}
ENUMS = (Oxygen, Consciousness, Seizure, MotorWeakness, CerebralEdema)
ENUM_VALUES = st.sampled_from([member.value for enum in ENUMS for member in enum])


@st.composite
def corrupted(draw, valid_inputs):
    """Plausible inputs with up to three fields replaced by anything at all.

    Corrupting every field at once would make nearly every example a refusal of the first bad
    field; a few at a time reaches the grading paths too, and the interplay of bad fields.
    """
    inputs = draw(valid_inputs)
    for name in draw(st.lists(st.sampled_from(sorted(inputs)), max_size=3, unique=True)):
        inputs[name] = draw(ANYTHING)
    return inputs


# --- Plausible inputs -----------------------------------------------------------------------


@st.composite
def valid_crs(draw, **fixed) -> dict:
    """Plausible CRS inputs that the library accepts (flow only on a device, and so on)."""
    oxygen = fixed.get("oxygen", draw(st.sampled_from(Oxygen)))
    inputs = {
        "temperature_c": draw(st.none() | st.floats(25, 45)),
        "fever_earlier": draw(st.booleans()),
        "fever_masking_therapy": draw(st.booleans()),
        "hypotension": draw(st.booleans()),
        "vasopressors": draw(st.integers(0, 10)),
        "vasopressin": draw(st.booleans()),
        "oxygen": oxygen,
        "oxygen_flow_l_min": (
            None if oxygen is Oxygen.ROOM_AIR else draw(st.none() | st.floats(0, 80))
        ),
        # Only meaningful (and only accepted) on positive pressure.
        "airway_protection_only": oxygen in POSITIVE_PRESSURE and draw(st.booleans()),
    }
    return inputs | fixed


@st.composite
def valid_icans(draw) -> dict:
    screen = draw(st.sampled_from(["ice", "capd", "none"]))
    consciousness = draw(st.sampled_from(Consciousness))
    ice = draw(st.integers(0, 10)) if screen == "ice" else None
    if ice and consciousness is Consciousness.UNAROUSABLE:
        ice = 0  # an unarousable patient scores 0 on the ICE screen
    return {
        "ice_score": ice,
        "capd_score": draw(st.integers(0, 32)) if screen == "capd" else None,
        "consciousness": consciousness,
        "seizure": draw(st.sampled_from(Seizure)),
        "motor_weakness": draw(st.sampled_from(MotorWeakness)),
        "cerebral_edema": draw(st.sampled_from(CerebralEdema)),
        # No other cause by default, so any field a corruption leaves alone stays valid.
        "consciousness_attributable_to": None,
        "consciousness_other_cause": "",
    }


def valid_news2():
    return st.fixed_dictionaries(
        {
            "respiration_rate": st.none() | st.floats(0, 100),
            "spo2_pct": st.none() | st.floats(0, 100),
            "on_oxygen": st.none() | st.booleans(),
            "systolic_bp": st.none() | st.floats(0, 350),
            "pulse": st.none() | st.floats(0, 300),
            "consciousness_alert": st.none() | st.booleans(),
            "temperature_c": st.none() | st.floats(25, 45),
            "spo2_scale": st.sampled_from([1, 2]),
            "age_years": st.none() | st.floats(16, 130),
        }
    )


def answer_or_refusal(call):
    """Run a grading call: its answer, or the ValueError it refused with. Any other exception
    propagates and fails the test: that is the property."""
    try:
        return call()
    except ValueError as refusal:
        return refusal


def refused(answer) -> bool:
    if isinstance(answer, ValueError):
        assert str(answer), "a refusal must say what is wrong"
        event("refused")
        return True
    return False


def check_answer(domain: str, call) -> None:
    """The contract: a 0-4 grade with non-empty reasons, or a ValueError with a message."""
    result = answer_or_refusal(call)
    if refused(result):
        return
    event(f"graded {domain} {result.grade}")
    assert result.grade in range(5)
    assert result.reasons
    assert all(isinstance(reason, str) and reason for reason in result.reasons)
    assert result.needs_review == bool(result.review_reasons)


def check_crs_answer(inputs: dict) -> None:
    check_answer("CRS", lambda: grade_crs(CRSInputs(**inputs)))


def check_icans_answer(inputs: dict) -> None:
    check_answer("ICANS", lambda: grade_icans(ICANSInputs(**inputs)))


# --- Any input: a grade or a ValueError --------------------------------------------------------


@many
@given(corrupted(valid_crs()))
def test_any_crs_input_gets_a_grade_with_reasons_or_a_value_error(inputs):
    check_crs_answer(inputs)


@many
@given(corrupted(valid_icans()))
def test_any_icans_input_gets_a_grade_with_reasons_or_a_value_error(inputs):
    check_icans_answer(inputs)


@many
@given(
    corrupted(
        st.fixed_dictionaries(
            {
                "systolic_bp": st.floats(0, 350),
                "age_years": st.none() | st.floats(0, 130),
                "threshold": st.none() | st.floats(0, 350),
            }
        )
    )
)
def test_any_blood_pressure_is_hypotensive_or_not_or_a_value_error(inputs):
    answer = answer_or_refusal(lambda: is_hypotensive(**inputs))
    if refused(answer):
        return
    event(f"hypotensive={answer}")
    assert answer in (True, False)


@many
@given(corrupted(valid_news2()))
def test_any_news2_input_gets_a_score_that_adds_up_or_a_value_error(inputs):
    result = answer_or_refusal(lambda: news2(**inputs))
    if refused(result):
        return
    event(f"scored, risk {result.risk}")
    # Seven parameters, at most 3 points each.
    assert 0 <= result.total <= 21
    assert result.total == sum(result.parameters.values())
    assert result.risk in NEWS2Risk
    assert result.response


@pytest.mark.parametrize(
    "call",
    [
        lambda: CRSInputs(temperature_c=10**400),
        lambda: CRSInputs(oxygen="low_flow", oxygen_flow_l_min=10**400),
        lambda: is_hypotensive(10**400, 40),
    ],
    ids=["temperature", "flow", "systolic"],
)
def test_an_integer_too_large_for_a_float_is_refused_with_a_value_error(call):
    # math.isnan() on such an int raises OverflowError: the range check must come first.
    with pytest.raises(ValueError, match="must be between"):
        call()


# --- A worse finding never lowers the grade ----------------------------------------------------


def crs_grade(inputs: dict) -> int:
    return grade_crs(CRSInputs(**inputs)).grade


@many
@given(valid_crs(), st.integers(1, 10))
def test_adding_a_vasopressor_never_lowers_the_crs_grade(inputs, more):
    more = min(more, 10 - inputs["vasopressors"])
    worse = inputs | {"vasopressors": inputs["vasopressors"] + more}
    assert crs_grade(worse) >= crs_grade(inputs)


@many
@given(
    valid_crs(),
    st.sampled_from(["hypotension", "vasopressin", "fever_earlier", "fever_masking_therapy"]),
)
def test_a_new_finding_or_therapy_never_lowers_the_crs_grade(inputs, finding):
    # Fever earlier and masking therapy can only turn the masked-fever rule on.
    assert crs_grade(inputs | {finding: True}) >= crs_grade(inputs | {finding: False})


@many
@given(valid_crs(), st.floats(25, 45), st.floats(25, 45))
def test_a_higher_temperature_never_lowers_the_crs_grade(inputs, one, other):
    low, high = sorted([one, other])
    assert crs_grade(inputs | {"temperature_c": high}) >= crs_grade(inputs | {"temperature_c": low})


@many
@given(valid_crs(oxygen=Oxygen.ROOM_AIR), st.sampled_from(Oxygen), st.none() | st.floats(0, 80))
def test_starting_oxygen_never_lowers_the_crs_grade(inputs, device, flow):
    on_oxygen = inputs | {
        "oxygen": device,
        "oxygen_flow_l_min": None if device is Oxygen.ROOM_AIR else flow,
    }
    assert crs_grade(on_oxygen) >= crs_grade(inputs)


CONSCIOUSNESS_ORDER = list(Consciousness)  # alert ... unarousable, best to worst
SEIZURE_ORDER = list(Seizure)
EDEMA_ORDER = list(CerebralEdema)
MOTOR_ORDER = list(MotorWeakness)


def icans_grade(inputs: dict) -> int:
    return grade_icans(ICANSInputs(**inputs)).grade


@many
@given(valid_icans(), st.data())
def test_worse_consciousness_never_lowers_the_icans_grade(inputs, data):
    start = CONSCIOUSNESS_ORDER.index(inputs["consciousness"])
    worse = data.draw(st.sampled_from(CONSCIOUSNESS_ORDER[start:]))
    changed = inputs | {"consciousness": worse}
    if worse is Consciousness.UNAROUSABLE and inputs["ice_score"]:
        # Unarousable and scoring on the ICE screen contradict each other: refused, not graded.
        with pytest.raises(ValueError, match="unarousable"):
            icans_grade(changed)
        return
    assert icans_grade(changed) >= icans_grade(inputs)


@many
@given(valid_icans(), st.integers(0, 10))
def test_a_lower_ice_score_never_lowers_the_icans_grade(inputs, drop):
    if inputs["ice_score"] is None:
        inputs = inputs | {"ice_score": 10, "capd_score": None}
        if inputs["consciousness"] is Consciousness.UNAROUSABLE:
            inputs["ice_score"] = 0
    lower = inputs | {"ice_score": max(0, inputs["ice_score"] - drop)}
    assert icans_grade(lower) >= icans_grade(inputs)


@many
@given(valid_icans(), st.integers(0, 32))
def test_a_higher_capd_score_never_lowers_the_icans_grade(inputs, rise):
    inputs = inputs | {"ice_score": None, "capd_score": inputs["capd_score"] or 0}
    higher = inputs | {"capd_score": min(32, inputs["capd_score"] + rise)}
    assert icans_grade(higher) >= icans_grade(inputs)


@many
@given(
    valid_icans(),
    st.sampled_from(
        [
            ("seizure", SEIZURE_ORDER),
            ("cerebral_edema", EDEMA_ORDER),
            ("motor_weakness", MOTOR_ORDER),
        ]
    ),
    st.data(),
)
def test_a_worse_seizure_oedema_or_weakness_never_lowers_the_icans_grade(inputs, domain, data):
    name, order = domain
    start = order.index(inputs[name])
    worse = data.draw(st.sampled_from(order[start:]))
    assert icans_grade(inputs | {name: worse}) >= icans_grade(inputs)


@many
@given(valid_icans(), st.sampled_from(ConsciousnessCause), st.text(min_size=1, max_size=40))
def test_consciousness_with_another_cause_leaves_the_grade_to_seizure_motor_and_oedema(
    inputs, cause, other
):
    # ref §2.2 †: depressed consciousness with another cause is not ICANS; the other domains
    # still grade, and a clinician always confirms.
    if inputs["consciousness"] is Consciousness.ALERT:
        inputs = inputs | {"consciousness": Consciousness.AWAKENS_TO_VOICE}
    attributed = inputs | {
        "ice_score": None,
        "capd_score": None,
        "consciousness_attributable_to": cause,
        "consciousness_other_cause": other if cause is ConsciousnessCause.OTHER else "",
    }
    result = answer_or_refusal(lambda: grade_icans(ICANSInputs(**attributed)))
    if refused(result):  # e.g. an "other" cause of blank text
        assert not other.strip()
        return
    others = {name: attributed[name] for name in ("seizure", "motor_weakness", "cerebral_edema")}
    alone = ICANSInputs(ice_score=10, **others)
    assert result.grade == grade_icans(alone).grade
    assert result.needs_review


@many
@given(st.floats(0, 350), st.floats(0, 350), st.none() | st.floats(0, 130))
def test_a_lower_systolic_pressure_is_never_less_hypotensive(one, other, age):
    low, high = sorted([one, other])
    if is_hypotensive(high, age):
        assert is_hypotensive(low, age)


@many
@given(st.floats(0, 130), st.floats(0, 130))
def test_an_older_childs_hypotension_limit_is_never_lower(one, other):
    # PALS limits rise with age up to the adult 90 mmHg (reference §1.3).
    young, old = sorted([one, other])
    assert hypotension_threshold_mmhg(old) >= hypotension_threshold_mmhg(young)


def test_decimal_values_are_refused_rather_than_silently_mixed_with_floats():
    # Forms produce Decimal; the library takes float or int only, so a caller converting
    # nothing finds out at once instead of grading on a half-converted value.
    with pytest.raises(ValueError, match="temperature_c must be a number"):
        CRSInputs(temperature_c=Decimal("38.5"))
