"""ICANS grading, ICE and CAPD totals by the ASTCT 2019 consensus (clinical reference §2)."""

import dataclasses

import pytest

from monitoring.grading import (
    CAPD_ANSWERS,
    CAPD_ITEMS,
    ICE_ITEMS,
    RULE_VERSION,
    Consciousness,
    ConsciousnessCause,
    ICANSInputs,
    ICANSResult,
    Seizure,
    capd_total,
    grade_icans,
    ice_total,
)


def graded(**inputs) -> ICANSResult:
    result = grade_icans(ICANSInputs(**inputs))
    # needs_review and review_reasons must always agree.
    assert result.needs_review == bool(result.review_reasons)
    return result


# --- ICE and CAPD domain --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ice_score", "grade"),
    [
        (10, 0),  # ref §2.1: 10/10 is normal
        (9, 1),  # ref §2.2 [V: S2c, S2d]: 7-9 is grade 1
        (7, 1),
        (6, 2),  # ref §2.2: 3-6 is grade 2
        (3, 2),
        (2, 3),  # ref §2.2: 0-2 is grade 3
        (0, 3),  # ref §2.2: ICE 0 while awake (global aphasia) is grade 3
    ],
    ids=["ice-10", "ice-9", "ice-7", "ice-6", "ice-3", "ice-2", "ice-0-awake"],
)
def test_ice_bands(ice_score, grade):
    result = graded(ice_score=ice_score)
    assert result.grade == grade
    assert result.domains["ice_or_capd"] == grade


def test_ice_0_in_an_unarousable_patient_is_grade_4():
    # ref §2.2 [V: S2c, S2d]: "ICE 0 because the patient is unarousable is grade 4".
    result = graded(ice_score=0, consciousness="unarousable")
    assert result.grade == 4
    assert result.reasons[0] == "ICE 0/10, unarousable → grade 4"
    assert result.decided_by == ("ice_or_capd", "consciousness")


@pytest.mark.parametrize(
    ("capd_score", "consciousness", "grade"),
    [
        (0, "alert", 0),  # ref §2.3 footnote 1: CAPD 0 is not ICANS
        (1, "alert", 1),  # ref §2.3 [V: S4, S5]: 1-8 (< 9) is grade 1 or 2
        (8, "awakens_spontaneously", 1),  # ref §2.3: 1-8 and awakens spontaneously
        (8, "awakens_to_voice", 2),  # ref §2.3 [V: S4]: consciousness separates 1 from 2
        (5, "awakens_to_voice", 2),
        (9, "alert", 3),  # ref §2.3 [V: S3, S6b]: ≥ 9 is grade 3
        (32, "alert", 3),
        (20, "unarousable", 4),  # ref §2.2: consciousness domain, as for adults
    ],
    ids=[
        "capd-0",
        "capd-1",
        "capd-8-spont",
        "capd-8-voice",
        "capd-5-voice",
        "capd-9",
        "capd-32",
        "capd-unarousable",
    ],
)
def test_capd_bands_for_children_under_12(capd_score, consciousness, grade):
    assert graded(capd_score=capd_score, consciousness=consciousness).grade == grade


def test_capd_9_reason_says_delirium_screen_positive():
    result = graded(capd_score=9)  # ref §2.3 [V: S6b]: ≥ 9 = positive screen
    assert result.reasons == ("CAPD 9/32 (>= 9, delirium screen positive) → grade 3",)


# --- Other domains --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "value", "grade"),
    [
        ("consciousness", "alert", 0),  # ref §2.2 schema caveat: alert kept apart
        ("consciousness", "awakens_spontaneously", 1),  # ref §2.2 [V: S2c, S2d]
        ("consciousness", "awakens_to_voice", 2),  # ref §2.2
        ("consciousness", "awakens_to_touch", 3),  # ref §2.2: only to tactile stimulus
        ("seizure", "none", 0),
        ("seizure", "resolved_rapidly", 3),  # ref §2.2: any clinical seizure resolving rapidly
        ("seizure", "prolonged_or_repetitive", 4),  # ref §2.2: > 5 min or repetitive
        ("motor_weakness", "none", 0),
        ("motor_weakness", "deep_focal", 4),  # ref §2.2: hemiparesis or paraparesis
        ("cerebral_edema", "none", 0),
        ("cerebral_edema", "focal", 3),  # ref §2.2: focal/local oedema on imaging
        ("cerebral_edema", "diffuse", 4),  # ref §2.2: diffuse oedema
    ],
    ids=str,
)
def test_each_domain_grades_by_the_astct_table(domain, value, grade):
    result = graded(ice_score=10, **{domain: value})
    assert result.grade == grade
    if grade:
        assert result.reasons[0].endswith(f"→ grade {grade}")


def test_unarousable_is_grade_4_with_ice_0():
    result = graded(ice_score=0, consciousness=Consciousness.UNAROUSABLE)  # ref §2.2
    assert result.domains["consciousness"] == 4


def test_astct_example_ice_3_with_a_generalised_seizure_is_grade_3():
    # ref §2.2 [V: S2c]: "ICE 3 with a generalised seizure is grade 3".
    result = graded(ice_score=3, seizure="resolved_rapidly")
    assert result.grade == 3
    assert result.reasons == ("seizure that resolved rapidly → grade 3", "ICE 3/10 → grade 2")
    assert result.decided_by == ("seizure",)


def test_the_worst_domain_decides_and_comes_first():
    # ref §2.2: the ICANS grade is the most severe event across the domains.
    result = graded(ice_score=8, consciousness="awakens_to_voice", cerebral_edema="diffuse")
    assert result.grade == 4
    assert result.reasons == (
        "diffuse cerebral oedema → grade 4",
        "awakens only to voice → grade 2",
        "ICE 8/10 → grade 1",
    )
    assert dict(result.domains) == {
        "ice_or_capd": 1,
        "consciousness": 2,
        "seizure": 0,
        "motor": 0,
        "edema": 4,
    }


def test_grade_0_still_says_why():
    result = graded(ice_score=10)
    assert result.reasons == (
        "ICE 10/10, alert, no seizure, no motor weakness, no cerebral oedema → no ICANS",
    )
    assert result.decided_by == ()
    assert not result.needs_review


# --- ICE/CAPD not assessed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "grade", "needs_review"),
    [
        ({"consciousness": "unarousable"}, 4, False),  # ref §2.2/§2.3: unable to perform, G4
        ({}, 0, True),  # other domains normal: a clinician must confirm
        ({"consciousness": "awakens_to_voice"}, 2, True),  # other domains decide
        ({"seizure": "prolonged_or_repetitive"}, 4, True),
    ],
    ids=["unarousable", "alert", "voice", "status-epilepticus"],
)
def test_a_missing_screen_lets_other_domains_decide_for_review(inputs, grade, needs_review):
    result = graded(**inputs)
    assert result.grade == grade
    assert result.needs_review is needs_review
    if needs_review:
        assert result.review_reasons == (
            "ICE/CAPD not assessed — sedation, intubation or a language barrier are not ICANS "
            "by themselves; a clinician must confirm",
        )
        assert "ICE/CAPD not assessed" in " ".join(result.reasons)


def test_a_missing_screen_at_grade_0_is_not_called_normal():
    assert graded().reasons[0].endswith("→ no ICANS on the assessed domains")


# --- Depressed consciousness with another cause (ref §2.2 footnote †) ----------------------


@pytest.mark.parametrize(
    ("inputs", "grade", "decided_by"),
    [
        # ref §2.2 †: "must not be attributable to another cause, e.g. sedating medication".
        # Sedated and intubated, ICE not possible: not ICANS 4, ICANS 0 for review.
        ({"consciousness": "unarousable", "consciousness_attributable_to": "sedation"}, 0, ()),
        ({"consciousness": "awakens_to_touch", "consciousness_attributable_to": "sedation"}, 0, ()),
        (
            {"consciousness": "awakens_spontaneously", "consciousness_attributable_to": "sedation"},
            0,
            (),
        ),
        # ref §2.2: the other domains still grade. Post-ictal after a seizure that resolved:
        # the seizure is grade 3 (ref §2.2 seizure row), the drowsiness after it is not graded.
        (
            {
                "consciousness": "unarousable",
                "consciousness_attributable_to": "post_ictal",
                "seizure": "resolved_rapidly",
            },
            3,
            ("seizure",),
        ),
        (
            {
                "consciousness": "awakens_to_voice",
                "consciousness_attributable_to": "post_ictal",
                "seizure": "prolonged_or_repetitive",
            },
            4,
            ("seizure",),
        ),
        (
            {
                "consciousness": "unarousable",
                "consciousness_attributable_to": "sedation",
                "motor_weakness": "deep_focal",
            },
            4,
            ("motor",),
        ),
        (
            {
                "consciousness": "unarousable",
                "consciousness_attributable_to": "other",
                "consciousness_other_cause": "hypoglycaemia 1.8 mmol/L",
                "cerebral_edema": "focal",
            },
            3,
            ("edema",),
        ),
    ],
    ids=[
        "sedated-unarousable",
        "sedated-touch",
        "sedated-spontaneous",
        "post-ictal-seizure-3",
        "post-ictal-status-4",
        "sedated-hemiparesis-4",
        "other-cause-focal-oedema-3",
    ],
)
def test_consciousness_with_another_cause_does_not_grade_but_the_other_domains_do(
    inputs, grade, decided_by
):
    result = graded(**inputs)

    assert result.grade == grade
    assert result.decided_by == decided_by
    assert result.domains["consciousness"] == 0
    assert result.domains["ice_or_capd"] == 0
    # Always for a clinician to confirm, with a reason that says why (ref §2.2 †).
    assert result.needs_review
    assert len(result.review_reasons) == 1
    assert "ref §2.2 †" in result.review_reasons[0]
    assert "ICE/CAPD is not assessable" in result.review_reasons[0]
    assert "ICE/CAPD not assessable" in " ".join(result.reasons)


@pytest.mark.parametrize(
    ("cause", "other", "words"),
    [
        ("sedation", "", "attributed to sedation"),
        ("post_ictal", "", "attributed to a post-ictal state"),
        ("other", "  hypoglycaemia 1.8 mmol/L ", "attributed to another cause: hypoglycaemia 1.8"),
    ],
    ids=["sedation", "post-ictal", "other"],
)
def test_the_review_reason_names_the_level_and_the_cause(cause, other, words):
    result = graded(
        consciousness="unarousable",
        consciousness_attributable_to=cause,
        consciousness_other_cause=other,
    )

    assert result.review_reasons[0].startswith(f"depressed consciousness (unarousable) {words}")
    assert result.reasons == (
        f"ICE/CAPD not assessable, unarousable ({words}"
        + (" mmol/L" if cause == "other" else "")
        + ", not ICANS), no seizure, no motor weakness, no cerebral oedema → no ICANS on the "
        "assessed domains",
    )


def test_when_another_domain_decides_the_reasons_still_say_what_was_left_out():
    result = graded(
        consciousness="awakens_to_touch",
        consciousness_attributable_to="post_ictal",
        seizure="resolved_rapidly",
    )

    assert result.reasons == (
        "seizure that resolved rapidly → grade 3",
        "awakens only to touch (attributed to a post-ictal state, not ICANS)",
        "ICE/CAPD not assessable",
    )


@pytest.mark.parametrize(
    ("inputs", "grade", "needs_review"),
    [
        # ref §2.2 ICE row: "0 (patient unarousable and unable to perform ICE)" is grade 4;
        # without another cause it stays grade 4, and nothing asks to lower it.
        ({"consciousness": "unarousable"}, 4, False),
        ({"consciousness": "unarousable", "ice_score": 0}, 4, False),
        ({"consciousness": "unarousable", "capd_score": 0}, 4, False),  # ref §2.3
        ({"consciousness": "awakens_to_touch", "ice_score": 5}, 3, False),  # ref §2.2 row
    ],
    ids=["unarousable-no-screen", "unarousable-ice-0", "unarousable-capd", "touch-ice-5"],
)
def test_depressed_consciousness_without_another_cause_grades_as_before(
    inputs, grade, needs_review
):
    result = graded(**inputs)

    assert result.grade == grade
    assert result.needs_review is needs_review


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"consciousness": "unarousable", "consciousness_attributable_to": "opioids"},
            "sedation | post_ictal | other",
        ),
        (
            {"consciousness": "unarousable", "consciousness_attributable_to": "other"},
            "must name the cause",
        ),
        (
            {
                "consciousness": "unarousable",
                "consciousness_attributable_to": "other",
                "consciousness_other_cause": "   ",
            },
            "must name the cause",
        ),
        (
            {
                "consciousness": "unarousable",
                "consciousness_attributable_to": "sedation",
                "consciousness_other_cause": "propofol",
            },
            "only when, consciousness_attributable_to is other",
        ),
        (
            {"consciousness": "unarousable", "consciousness_other_cause": "propofol"},
            "only given with consciousness_attributable_to=other",
        ),
        (
            {
                "consciousness": "unarousable",
                "consciousness_attributable_to": "other",
                "consciousness_other_cause": 7,
            },
            "must be text of at most 200 characters",
        ),
        (
            {
                "consciousness": "unarousable",
                "consciousness_attributable_to": "other",
                "consciousness_other_cause": "x" * 201,
            },
            "must be text of at most 200 characters",
        ),
        (
            {"consciousness": "alert", "consciousness_attributable_to": "sedation"},
            "needs a depressed level of consciousness",
        ),
        (
            {
                "consciousness": "awakens_to_voice",
                "consciousness_attributable_to": "sedation",
                "ice_score": 8,
            },
            "not assessable",
        ),
        (
            {
                "consciousness": "awakens_to_voice",
                "consciousness_attributable_to": "sedation",
                "capd_score": 4,
            },
            "not assessable",
        ),
    ],
    ids=[
        "unknown-cause",
        "other-without-text",
        "other-blank-text",
        "text-without-other",
        "text-without-cause",
        "text-not-a-string",
        "text-too-long",
        "alert",
        "with-ice-score",
        "with-capd-score",
    ],
)
def test_an_attribution_that_cannot_be_true_is_refused(inputs, message):
    with pytest.raises(ValueError, match=message):
        ICANSInputs(**inputs)


# --- What is not an input -------------------------------------------------------------------


def test_tremor_myoclonus_and_headache_are_not_icans_inputs():
    # ref §2.2 [V: S2c, S2d]: tremor and myoclonus do not influence the ICANS grade;
    # ref §0: headache is not an ICANS grading element.
    names = {f.name for f in dataclasses.fields(ICANSInputs)}
    assert names == {
        "ice_score",
        "capd_score",
        "consciousness",
        "seizure",
        "motor_weakness",
        "cerebral_edema",
        # ref §2.2 †: whether a depressed consciousness has another cause (§9 items 4, 7).
        "consciousness_attributable_to",
        "consciousness_other_cause",
    }
    for symptom in ("tremor", "myoclonus", "headache", "haemorrhage", "hemorrhage"):
        assert not any(symptom in name for name in names)


# --- Inputs: defaults, coercion, validation -------------------------------------------------


def test_defaults_and_string_coercion():
    assert dataclasses.asdict(ICANSInputs()) == {
        "ice_score": None,
        "capd_score": None,
        "consciousness": "alert",
        "seizure": "none",
        "motor_weakness": "none",
        "cerebral_edema": "none",
        "consciousness_attributable_to": None,
        "consciousness_other_cause": "",
    }
    assert ICANSInputs(seizure="resolved_rapidly").seizure is Seizure.RESOLVED_RAPIDLY
    sedated = ICANSInputs(consciousness="unarousable", consciousness_attributable_to="sedation")
    assert sedated.consciousness_attributable_to is ConsciousnessCause.SEDATION


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"ice_score": 10, "capd_score": 0}, "not both"),
        ({"ice_score": 11}, "ice_score must be from 0 to 10"),
        ({"ice_score": -1}, "ice_score must be from 0 to 10"),
        ({"ice_score": 7.0}, "whole number from 0 to 10"),
        ({"ice_score": "7"}, "whole number from 0 to 10"),
        ({"ice_score": True}, "whole number from 0 to 10"),
        ({"capd_score": 33}, "capd_score must be from 0 to 32"),
        ({"capd_score": -1}, "capd_score must be from 0 to 32"),
        ({"capd_score": 9.5}, "whole number from 0 to 32"),
        ({"ice_score": 1, "consciousness": "unarousable"}, "cannot complete the ICE screen"),
        ({"consciousness": "drowsy"}, "alert | awakens_spontaneously"),
        ({"seizure": "focal"}, "none | resolved_rapidly | prolonged_or_repetitive"),
        ({"motor_weakness": "tremor"}, "none | deep_focal"),
        ({"cerebral_edema": 3}, "none | focal | diffuse"),
    ],
    ids=[
        "both-scores",
        "ice-11",
        "ice-negative",
        "ice-float",
        "ice-string",
        "ice-bool",
        "capd-33",
        "capd-negative",
        "capd-float",
        "unarousable-with-ice",
        "unknown-consciousness",
        "unknown-seizure",
        "tremor-is-not-motor",
        "edema-int",
    ],
)
def test_invalid_inputs_raise_with_the_allowed_range(inputs, message):
    with pytest.raises(ValueError, match=message):
        ICANSInputs(**inputs)


def test_results_are_frozen_and_versioned():
    result = graded(ice_score=8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.grade = 0
    assert result.rule_version == RULE_VERSION


# --- ICE total from items -------------------------------------------------------------------


def test_ice_items_add_up_to_10():
    # ref §2.1 [V: S3, S2b, S17e]: 4 + 3 + 1 + 1 + 1.
    assert [item.name for item in ICE_ITEMS] == [
        "orientation",
        "naming",
        "commands",
        "writing",
        "attention",
    ]
    assert sum(item.max_points for item in ICE_ITEMS) == 10
    name, title, task, max_points = ICE_ITEMS[4]
    assert (name, title, task, max_points) == (
        "attention",
        "Attention",
        "count backwards from 100 by 10",
        1,
    )


def test_each_ice_item_names_its_domain_once():
    # The task says what is asked without repeating the domain ("Orientation (Orientation to…").
    for item in ICE_ITEMS:
        assert item.title.split()[0].lower() not in item.task.lower(), item


@pytest.mark.parametrize(
    ("items", "total"),
    [
        ((4, 3, 1, 1, 1), 10),  # ref §2.1: all correct
        ((0, 0, 0, 0, 0), 0),
        ((3, 2, 1, 0, 1), 7),  # ref §2.2: a grade-1 total (7-9)
    ],
    ids=["all-correct", "none-correct", "seven"],
)
def test_ice_total_is_the_sum_of_its_items(items, total):
    assert ice_total(*items) == total


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"orientation": 5}, "orientation must be from 0 to 4"),
        ({"naming": 4}, "naming must be from 0 to 3"),
        ({"commands": 2}, "commands must be from 0 to 1"),
        ({"writing": -1}, "writing must be from 0 to 1"),
        ({"attention": True}, "attention must be a whole number from 0 to 1"),
    ],
    ids=["orientation-5", "naming-4", "commands-2", "writing-negative", "attention-bool"],
)
def test_ice_items_are_checked_against_their_maximum(items, message):
    scores = {"orientation": 4, "naming": 3, "commands": 1, "writing": 1, "attention": 1}
    with pytest.raises(ValueError, match=message):
        ice_total(**(scores | items))


# --- CAPD total from the nurse's answers ----------------------------------------------------

NEVER, RARELY, SOMETIMES, OFTEN, ALWAYS = range(5)


def test_capd_items_and_answers_match_the_reference():
    # ref §2.3 CAPD table [V: S6b].
    assert len(CAPD_ITEMS) == 8
    assert CAPD_ITEMS[0] == "Does the child make eye contact with the caregiver?"
    assert CAPD_ITEMS[7] == "Does it take the child a long time to respond to interactions?"
    assert CAPD_ANSWERS == ("never", "rarely", "sometimes", "often", "always")


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        # ref §2.3 [V: S6b]: items 1-4 reverse-scored, so "always" scores 0 there, 4 on 5-8.
        ((ALWAYS,) * 8, 16),
        # Never makes eye contact, never purposeful ... and always restless, inconsolable ...
        ((NEVER,) * 4 + (ALWAYS,) * 4, 32),
        # A well child: always eye contact ... never restless ...
        ((ALWAYS,) * 4 + (NEVER,) * 4, 0),
        ((NEVER,) * 8, 16),
        # Sometimes on every item scores 2 each (the middle of the scale).
        ((SOMETIMES,) * 8, 16),
        # Often makes eye contact (1), rarely purposeful (3), always aware (0), often
        # communicates (1), rarely restless (1), never inconsolable (0), sometimes
        # underactive (2), often slow to respond (3): 11, a positive screen (≥ 9).
        ([OFTEN, RARELY, ALWAYS, OFTEN, RARELY, NEVER, SOMETIMES, OFTEN], 11),
    ],
    ids=["all-always", "worst", "well-child", "all-never", "all-sometimes", "mixed-11"],
)
def test_capd_total_reverse_scores_items_1_to_4(answers, total):
    assert capd_total(answers) == total


def test_a_capd_total_of_9_or_more_grades_icans_3():
    answers = [OFTEN, RARELY, ALWAYS, OFTEN, RARELY, NEVER, SOMETIMES, OFTEN]  # 11, ref §2.3
    assert graded(capd_score=capd_total(answers)).grade == 3


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ((ALWAYS,) * 7, "8 values"),
        ((ALWAYS,) * 9, "8 values"),
        ("always!!", "8 values"),
        ((ALWAYS,) * 7 + (5,), "capd answer 8 must be from 0 to 4"),
        ((-1,) + (ALWAYS,) * 7, "capd answer 1 must be from 0 to 4"),
        (("always",) + (ALWAYS,) * 7, "whole number from 0 to 4"),
    ],
    ids=["seven", "nine", "string", "answer-5", "answer-negative", "answer-text"],
)
def test_capd_answers_are_checked(answers, message):
    with pytest.raises(ValueError, match=message):
        capd_total(answers)
