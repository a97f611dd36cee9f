"""The registry summary and CSV count a drug as CRS/ICANS therapy only for the episode it
treats (issue 10 §7): prophylactic dexamethasone stopped before CRS began is listed apart, not
as CRS therapy (CIBMTR: prophylaxis is reported only when continued after the diagnosis)."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import registry, services
from tests.factories import CourseFactory

ROOM_AIR = {"oxygen_support": "room_air", "vasopressors_count": 0, "vasopressin": False}
DEX = {"drug": "dexamethasone", "dose": 10, "dose_unit": "mg", "route": "po"}
TOCI = {"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"}


@pytest.fixture
def prophylaxis_course(ward_a, nurse):
    """Dexamethasone prophylaxis on day 0 and 1, stopped; CRS from 60 h, tocilizumab at 64 h."""
    course = CourseFactory(
        unit=ward_a, infused_at=timezone.now() - timedelta(days=6), patient__mrn="REG-PRO"
    )

    def chart(hours, **sections):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=course.infused_at + timedelta(hours=hours),
            **sections,
        )

    chart(1, vitals={**ROOM_AIR, "temp_c": 36.8})
    chart(2, treatment=DEX)
    chart(26, treatment=DEX)
    chart(60, vitals={**ROOM_AIR, "temp_c": 38.7})  # CRS 1
    chart(64, treatment=TOCI)
    chart(80, vitals={**ROOM_AIR, "temp_c": 37.0})
    chart(110, vitals={**ROOM_AIR, "temp_c": 36.9})
    return course


def test_the_summary_counts_only_the_therapy_of_the_episode(prophylaxis_course):
    summary = registry.summary_for(prophylaxis_course)

    assert summary.crs.onset_at == prophylaxis_course.infused_at + timedelta(hours=60)
    assert summary.drugs["dexamethasone"].doses == 0
    assert summary.drugs["tocilizumab"].doses == 1
    assert summary.not_counted["dexamethasone"].doses == 2


def test_the_summary_page_lists_prophylaxis_apart(care_client, prophylaxis_course):
    url = reverse("monitoring:patient-summary", args=[prophylaxis_course.patient.public_id])

    page = care_client.get(url).content.decode()

    table = page[page.index("Treatments for CRS and ICANS") :]
    dex_row = table[table.index("Dexamethasone") :]
    dex_row = dex_row[: dex_row.index("</tr>")]
    # neither CRS nor ICANS therapy
    assert '<td data-label="For CRS">—</td><td data-label="For ICANS">—</td>' in dex_row
    assert "2 doses · 20 mg" in dex_row  # not counted as therapy
    assert "Prophylaxis stopped before the onset is not counted as therapy" in page


def test_the_csv_says_which_doses_were_crs_therapy(care_client, prophylaxis_course):
    response = care_client.get(reverse("monitoring:exports-registry-csv"))

    (row,) = list(csv.DictReader(io.StringIO(response.content.decode("utf-8")[1:])))
    assert row["Dexamethasone doses"] == "0"
    assert row["Tocilizumab doses"] == "1"
    assert row["CRS therapy"] == "Tocilizumab x1 (560 mg)"
    assert row["ICANS therapy"] == ""
    assert row["Not counted as CRS/ICANS therapy"] == "Dexamethasone x2 (20 mg)"
