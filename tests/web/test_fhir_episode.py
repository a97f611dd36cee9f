"""Issue 14 §4, "Exports follow": the course's therapy episode in the FHIR bundle — one
EpisodeOfCare with the journey's phases in force as its statusHistory (docs/fhir.md, "The therapy
episode"), which the MedicationAdministrations point at. Every bundle is parsed with
fhir.resources' R4B models."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from fhir.resources.R4B.bundle import Bundle

from monitoring import dosing, fhir, infection, journey, services
from monitoring.models import Phase
from tests.factories import CourseFactory, PatientFactory
from tests.web.test_journey import register

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def days_ago(n):
    return TODAY - timedelta(days=n)


def export(client, course):
    response = client.get(reverse("monitoring:patient-fhir", args=[course.patient.public_id]))
    assert response.status_code == 200, response.status_code
    bundle = json.loads(response.content)
    Bundle.model_validate(bundle)
    return bundle


def resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def episode_of(bundle):
    (episode,) = resources(bundle, "EpisodeOfCare")
    return episode


def phases(episode):
    """(phase code, status, period) of each statusHistory entry, in order."""
    found = []
    for entry in episode.get("statusHistory", []):
        (extension,) = entry["extension"]
        assert extension["url"] == fhir.structure_definition("therapy-phase")
        assert extension["valueCoding"]["system"] == fhir.code_system("therapy-phases")
        found.append((extension["valueCoding"]["code"], entry["status"], entry["period"]))
    return found


def extension(episode, name):
    found = [e for e in episode["extension"] if e["url"] == fhir.structure_definition(name)]
    return found[0] if found else None


def follow_up_course(unit, nurse, care_team_member):
    """Infused 30 days ago; referral, collection, manufacturing and conditioning recorded with
    their dates; monitoring completed 2 days ago: in follow-up."""
    course = CourseFactory(unit=unit, infused_at=timezone.now() - timedelta(days=30))
    for phase, start, end, regimen in [
        ("referral", 60, None, ""),
        ("collection", 50, 50, ""),
        ("manufacturing", 49, 36, ""),
        ("conditioning", 35, 33, "Fludarabine/cyclophosphamide"),
    ]:
        journey.record_phase(
            course=course,
            phase=phase,
            started_on=days_ago(start),
            ended_on=days_ago(end) if end is not None else None,
            regimen=regimen,
            by=nurse,
        )
    services.end_monitoring(
        course=course,
        outcome="completed",
        ended_at=timezone.now() - timedelta(days=2),
        reason="Monitoring window over",
        by=care_team_member,
    )
    course.refresh_from_db()
    return course


@pytest.fixture
def in_follow_up(ward_a, nurse, care_team_member):
    return follow_up_course(ward_a, nurse, care_team_member)


def test_a_course_in_follow_up_exports_its_phases_in_order_with_their_dates(
    care_client, in_follow_up
):
    bundle = export(care_client, in_follow_up)
    episode = episode_of(bundle)

    day0 = timezone.localdate(in_follow_up.infused_at).isoformat()
    monitoring_ended = timezone.localdate(in_follow_up.monitoring_ended_at).isoformat()
    assert phases(episode) == [
        ("referral", "planned", {"start": days_ago(60).isoformat()}),
        (
            "collection",
            "planned",
            {"start": days_ago(50).isoformat(), "end": days_ago(50).isoformat()},
        ),
        (
            "manufacturing",
            "planned",
            {"start": days_ago(49).isoformat(), "end": days_ago(36).isoformat()},
        ),
        (
            "conditioning",
            "planned",
            {"start": days_ago(35).isoformat(), "end": days_ago(33).isoformat()},
        ),
        ("infusion", "active", {"start": day0}),
        ("acute_monitoring", "active", {"start": day0, "end": monitoring_ended}),
        ("follow_up", "active", {"start": monitoring_ended}),
    ]
    # In follow-up: the episode is still active, from the referral on, with no end yet.
    assert episode["status"] == "active"
    assert episode["period"] == {"start": days_ago(60).isoformat()}
    assert extension(episode, "conditioning-regimen")["valueString"] == (
        "Fludarabine/cyclophosphamide"
    )
    assert extension(episode, "end-reason") is None  # the end of *monitoring* is not the end
    (patient_entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert episode["patient"] == {"reference": patient_entry["fullUrl"]}


def test_the_episode_is_typed_by_the_products_class_and_names_the_product(
    care_client, in_follow_up
):
    episode = episode_of(export(care_client, in_follow_up))

    assert episode["type"] == [
        {
            "coding": [
                {
                    "system": fhir.code_system("product-classes"),
                    "code": "car_t",
                    "display": "CAR T-cell therapy",
                }
            ],
            "text": "CAR T-cell therapy",
        }
    ]
    product = extension(episode, "therapy-product")["valueCodeableConcept"]
    assert product["coding"][0] == {
        "system": fhir.code_system("products"),
        "code": "axi-cel",
        "display": "Axicabtagene ciloleucel",
    }
    assert {"system": "http://www.whocc.no/atc", "code": "L01XL03"}.items() <= product["coding"][
        1
    ].items()


def test_a_corrected_phase_exports_its_corrected_date_only(care_client, in_follow_up, nurse):
    journey.record_phase(
        course=in_follow_up,
        phase="collection",
        started_on=days_ago(51),
        ended_on=days_ago(51),
        reason="Apheresis was the day before",
        by=nurse,
    )

    episode = episode_of(export(care_client, in_follow_up))

    collection = [p for p in phases(episode) if p[0] == "collection"]
    assert collection == [
        (
            "collection",
            "planned",
            {"start": days_ago(51).isoformat(), "end": days_ago(51).isoformat()},
        )
    ]
    # The superseded row is not sent as a phase in force: its date is nowhere in the episode.
    assert days_ago(50).isoformat() not in json.dumps(episode)


def test_a_planned_course_is_a_planned_episode_with_only_what_was_recorded(
    care_client, ward_a, nurse
):
    course = register(ward_a, nurse, referred_ago=10)
    journey.record_phase(course=course, phase="collection", started_on=days_ago(3), by=nurse)

    episode = episode_of(export(care_client, course))

    assert episode["status"] == "planned"
    # The planned conditioning and day 0 are a plan, not phases the patient went through.
    assert phases(episode) == [
        ("referral", "planned", {"start": days_ago(10).isoformat()}),
        ("collection", "planned", {"start": days_ago(3).isoformat()}),
    ]
    assert episode["period"] == {"start": days_ago(10).isoformat()}


def test_an_ended_follow_up_is_a_finished_episode_with_the_reason(care_client, in_follow_up, nurse):
    journey.end_journey(
        course=in_follow_up, outcome="", ended_on=TODAY, reason="Lost to follow-up", by=nurse
    )

    episode = episode_of(export(care_client, in_follow_up))

    assert episode["status"] == "finished"
    assert phases(episode)[-2:] == [
        (
            "follow_up",
            "active",
            {
                "start": timezone.localdate(in_follow_up.monitoring_ended_at).isoformat(),
                "end": TODAY.isoformat(),
            },
        ),
        ("ended", "finished", {"start": TODAY.isoformat()}),
    ]
    assert episode["period"] == {"start": days_ago(60).isoformat(), "end": TODAY.isoformat()}
    assert extension(episode, "end-reason")["valueCodeableConcept"] == {
        "coding": [
            {
                "system": fhir.code_system("course-statuses"),
                "code": "completed",
                "display": "Monitoring completed",
            }
        ],
        "text": "Lost to follow-up",
    }


def test_a_planned_course_ended_before_day0_finished_without_an_infusion(
    care_client, ward_a, nurse
):
    course = register(ward_a, nurse, referred_ago=20)
    journey.end_journey(
        course=course,
        outcome="discontinued",
        ended_on=days_ago(1),
        reason="Manufacturing failed",
        by=nurse,
    )

    episode = episode_of(export(care_client, course))

    assert episode["status"] == "finished"
    assert phases(episode) == [
        ("referral", "planned", {"start": days_ago(20).isoformat()}),
        ("ended", "finished", {"start": days_ago(1).isoformat()}),
    ]
    reason = extension(episode, "end-reason")["valueCodeableConcept"]
    assert (reason["coding"][0]["code"], reason["text"]) == ("discontinued", "Manufacturing failed")


def test_a_spanish_download_still_exports_english_phases(care_team_member, in_follow_up):
    care_team_member.language = "es"
    care_team_member.save()
    client = Client()
    client.force_login(care_team_member)
    with translation.override("es"):  # the label is translated: the export must not be
        assert str(Phase.REFERRAL.label) != "Referral and evaluation"

    episode = episode_of(export(client, in_follow_up))

    displays = [e["extension"][0]["valueCoding"]["display"] for e in episode["statusHistory"]]
    assert displays[:2] == ["Referral and evaluation", "Collection (leukapheresis)"]
    assert displays[-1] == "Follow-up"


def test_the_episode_keeps_its_id_and_identifier_across_exports(care_client, in_follow_up, nurse):
    first = episode_of(export(care_client, in_follow_up))
    journey.record_phase(course=in_follow_up, phase="bridging", started_on=days_ago(40), by=nurse)
    second = episode_of(export(care_client, in_follow_up))

    assert second["id"] == first["id"]
    assert (
        second["identifier"]
        == first["identifier"]
        == [{"system": fhir.identifier_system("EpisodeOfCare"), "value": first["id"]}]
    )
    assert [p[0] for p in phases(second)][3] == "bridging"  # in the journey's order


def test_medication_administrations_point_at_the_episode_observations_and_conditions_cannot(
    care_client, ward_a, nurse, care_team_member
):
    course = services.start_course(
        course=CourseFactory.build(
            patient=PatientFactory(),
            unit=ward_a,
            product="teclistamab",
            infused_at=timezone.now() - timedelta(hours=30),
            protocol_version=services.protocol_version_for("teclistamab"),
        ),
        by=care_team_member,
    )
    (first, *_) = dosing.plan_doses(
        course=course, first_dose_at=course.infused_at, by=care_team_member
    )
    dosing.record_dose_given(dose=first, given_at=course.infused_at, by=nurse)
    services.record_check(
        course=course,
        by=nurse,
        observed_at=course.infused_at + timedelta(hours=6),
        vitals={"temp_c": 38.4, "oxygen_support": "room_air"},
        treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
    )
    infection.record_infection(
        course=course,
        site="bloodstream",
        organism_type="bacterial",
        organism="Escherichia coli",
        severity=3,
        onset_on=TODAY,
        by=care_team_member,
    )

    bundle = export(care_client, course)

    (episode_url,) = [
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "EpisodeOfCare"
    ]
    administrations = resources(bundle, "MedicationAdministration")
    assert len(administrations) == 2  # the tocilizumab and the step-up dose
    assert all(a["context"] == {"reference": episode_url} for a in administrations)
    # R4's Observation and Condition have only an Encounter reference, and no encounter is sent.
    for resource in resources(bundle, "Observation") + resources(bundle, "Condition"):
        assert episode_url not in json.dumps(resource)


@pytest.mark.parametrize("corrections", [0, 3])
def test_the_episode_costs_one_query_however_many_phases(
    care_client, in_follow_up, nurse, django_assert_num_queries, corrections
):
    for n in range(corrections):
        journey.record_phase(
            course=in_follow_up,
            phase="referral",
            started_on=days_ago(61 + n),
            reason="Referral letter found",
            by=nurse,
        )
    url = reverse("monitoring:patient-fhir", args=[in_follow_up.patient.public_id])
    # session, user, the course (patient, unit, status, protocol, product), vitals, neuro,
    # labs, treatments, snapshots, confirmations, doses given, infections, the phases in
    # force, the audit line.
    with django_assert_num_queries(13):
        response = care_client.get(url)
    assert [p[0] for p in phases(episode_of(json.loads(response.content)))][:1] == ["referral"]
