"""Flag kinds and severities, and oxygen support, are shown from labels translated once per
language (monitoring/models/labels.py) rather than by Django's get_FOO_display, which
translates every choice on every call: they must read exactly as Django's would."""

import pytest
from django.utils import translation

from monitoring.models import Flag, VitalSigns


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_flag_label_reads_as_djangos_own(language):
    with translation.override(language):
        for kind, label in Flag.Kind.choices:
            assert Flag(kind=kind).get_kind_display() == str(label)
        for severity, label in Flag.Severity.choices:
            assert Flag(severity=severity).get_severity_display() == str(label)


def test_the_labels_follow_the_readers_language():
    flag = Flag(kind=Flag.Kind.CRS_SYMPTOM, severity=Flag.Severity.URGENT)

    with translation.override("es"):
        spanish = (flag.get_kind_display(), flag.get_severity_display(), str(flag))
    with translation.override("en"):
        english = (flag.get_kind_display(), flag.get_severity_display())

    assert spanish == ("Síntoma de CRS", "Urgente", "[Urgente] ")
    assert english == ("CRS symptom", "Urgent")


def test_a_value_that_is_no_choice_reads_as_itself():
    assert Flag(kind="retired_kind").get_kind_display() == "retired_kind"


def test_the_oxygen_label_reads_in_the_readers_language():
    vitals = VitalSigns(oxygen_support="low_flow")

    with translation.override("es"):
        spanish = vitals.oxygen_label
    with translation.override("en"):
        english = vitals.oxygen_label

    assert english == str(VitalSigns.Oxygen.LOW_FLOW.label)
    assert spanish != english
    assert VitalSigns(oxygen_support="").oxygen_label == "oxygen not recorded"
