"""Translations (docs/translations.md): the catalogue is complete, grade reasons and pages read
in the user's language, dates and numbers follow it, times stay in the unit's zone, and the
numbers handed to scripts never take a decimal comma."""

from __future__ import annotations

import gettext
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from monitoring import services
from monitoring.grading import CRSInputs, Reason, grade_crs
from monitoring.grading.reasons import ENGLISH
from monitoring.models import AuditEvent, BedsideCheck, GradeSnapshot, PushSubscription
from monitoring.reasons import TEMPLATES, render, render_all
from tests.factories import ICE_10, ROOM_AIR

ROOT = Path(settings.BASE_DIR)
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture(autouse=True)
def _back_to_english():
    """A request leaves its language active in this thread: later tests expect English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


# --- The catalogue -------------------------------------------------------------------------


def _po_entries(path: Path) -> list[dict]:
    """msgid, msgstr(s) and flags of each entry of a .po file (enough of the format for us)."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and "msgid" in entry:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry if entry is not None else {"flags": "", "msgstr": {}}
        if line.startswith("#,"):
            entry["flags"] += line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            _append(entry, key, json.loads(line))
        else:
            key, _, value = line.partition(" ")
            _append(entry, key, json.loads(value), new=True)
    return [e for e in entries if e["msgid"]]  # the header


def _append(entry, key, text, *, new=False):
    if key.startswith("msgstr"):
        index = key[7:-1] or "0"
        entry["msgstr"][index] = ("" if new else entry["msgstr"][index]) + text
    else:
        entry[key] = ("" if new else entry[key]) + text


def _problems(entries: list[dict]) -> list[str]:
    problems = []
    for e in entries:
        name = repr(e["msgid"])
        if "fuzzy" in e["flags"]:
            problems.append(f"fuzzy: {name}")
        if not all(e["msgstr"].values()):
            problems.append(f"untranslated: {name}")
            continue
        wanted = set(PLACEHOLDER.findall(e["msgid"] + e.get("msgid_plural", "")))
        for text in e["msgstr"].values():
            if set(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"placeholders differ: {name} → {text!r}")
    return problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_catalogue_is_complete_with_matching_placeholders(language):
    entries = _po_entries(ROOT / "locale" / language / "LC_MESSAGES" / "django.po")

    assert len(entries) > 100
    assert _problems(entries) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(language):
    """The .mo is committed (no gettext needed to deploy): it must be compiled from the .po."""
    folder = ROOT / "locale" / language / "LC_MESSAGES"
    with (folder / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog  # noqa: SLF001
    source = {}
    for e in _po_entries(folder / "django.po"):
        # gettext keys an entry with a context as "context\x04msgid".
        msgid = f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
        if "msgid_plural" in e:
            for index, text in e["msgstr"].items():
                source[(msgid, int(index))] = text
        else:
            source[msgid] = e["msgstr"]["0"]

    assert {k: v for k, v in compiled.items() if k != ""} == source, (
        f"run: msgfmt -o {folder / 'django.mo'} {folder / 'django.po'}"
    )


def test_every_marked_string_in_the_code_is_in_the_catalogue_and_translated(tmp_path):
    """What CI guards: makemessages over today's code finds no new or changed string left
    untranslated (run in a copy, so the checkout is never touched)."""
    if not shutil.which("xgettext"):
        if os.environ.get("CARTMONITOR_REQUIRE_GETTEXT"):
            pytest.fail("gettext is not installed (apt-get install gettext)")
        pytest.skip("gettext (xgettext) is not installed here")
    for name in ("cartmonitor", "monitoring", "templates", "locale"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    for language in LANGUAGES:
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", language, "--no-obsolete"],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            timeout=300,
        )
        fresh = _po_entries(tmp_path / "locale" / language / "LC_MESSAGES" / "django.po")
        problems = _problems(fresh)
        assert problems == [], (
            f"{language}: translate these in locale/{language}/LC_MESSAGES/django.po, then "
            "compile (docs/translations.md):\n" + "\n".join(problems)
        )


# --- Grade reasons -------------------------------------------------------------------------


def test_every_reason_code_the_library_can_emit_has_a_template_in_every_language():
    assert set(TEMPLATES) == set(ENGLISH)
    for language in LANGUAGES:
        catalogue = translation.trans_real.translation(language)._catalog  # noqa: SLF001
        for code, template in TEMPLATES.items():
            with translation.override(None):  # no catalogue: the msgid itself
                msgid = str(template)
            assert catalogue.get(msgid), (language, code, msgid)


def test_english_rendering_is_the_library_s_own_text():
    """The catalogue's msgids follow the library: rendered in English, a stored reason reads
    exactly as the Reason the library returned."""
    result = grade_crs(
        CRSInputs(temperature_c=38.4, oxygen="low_flow", oxygen_flow_l_min=4.5, vasopressors=2)
    )
    with translation.override("en"):
        assert [render(r.as_json()) for r in result.reasons] == list(result.reasons)


def test_a_reason_renders_in_spanish_with_a_decimal_comma_and_the_published_names_kept():
    result = grade_crs(CRSInputs(temperature_c=38.4, oxygen="low_flow", oxygen_flow_l_min=4.5))
    stored = json.loads(json.dumps([r.as_json() for r in result.reasons]))

    with translation.override("es"):
        text = render_all(stored)

    assert text == [
        "hipoxia con oxígeno de bajo flujo a 4,5 L/min → grado 2",
        "fiebre de 38,4 °C: se cumple el criterio de fiebre de ASTCT",
    ]


def test_an_old_row_s_plain_english_reason_is_shown_as_it_is():
    with translation.override("es"):
        assert render_all(["fever 38.9 °C → grade 1"]) == ["fever 38.9 °C → grade 1"]
        assert render(Reason("crs.vasopressor_one").as_json()) == "un vasopresor"


# --- Pages for a Spanish-speaking user -----------------------------------------------------


@pytest.fixture
def spanish_nurse(nurse):
    nurse.language = "es"
    nurse.save(update_fields=["language"])
    return nurse


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _febrile_hypoxic_check(course, nurse) -> BedsideCheck:
    return services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=5),
        vitals={
            "temp_c": 38.4,
            "heart_rate_bpm": 104,
            "resp_rate_per_min": 22,
            "sbp_mmhg": 112,
            "dbp_mmhg": 70,
            "spo2_pct": 94,
            **ROOM_AIR,
            "oxygen_support": "low_flow",
            "oxygen_flow_l_min": 4.5,
        },
        neuro=ICE_10,
    )


def test_the_check_result_reads_in_spanish_with_its_grade_reasons(spanish_nurse, course):
    check = _febrile_hypoxic_check(course, spanish_nurse)
    url = reverse("monitoring:nurse-check-result", args=[course.patient.public_id, check.public_id])

    page = _client(spanish_nurse).get(url).content.decode()

    assert "Alertas generadas" in page
    # with the time of the deciding value, in the unit's zone: "D+3 14:00, este control"
    assert "hipoxia con oxígeno de bajo flujo a 4,5 L/min (registrado en D+" in page
    assert ", este control) → grado 2" in page
    assert "fiebre de 38,4 °C" in page
    shown = " ".join(re.findall(r'<ul class="reasons[^"]*">(.*?)</ul>', page, re.S))
    assert "grado" in shown
    assert "grade" not in shown  # no English reason left


def test_the_same_snapshot_reads_in_english_for_an_english_reader(spanish_nurse, nurse, course):
    check = _febrile_hypoxic_check(course, spanish_nurse)
    url = reverse("monitoring:nurse-check-result", args=[course.patient.public_id, check.public_id])
    other = type(nurse).objects.create(username="english-nurse", role=nurse.role)
    other.units.set(nurse.units.all())

    page = _client(other).get(url).content.decode()

    assert "hypoxia on low-flow oxygen 4.5 L/min (recorded at D+" in page
    assert ", this check) → grade 2" in page
    assert "Flags raised" in page


def test_a_browser_asking_for_spanish_gets_spanish_until_the_user_chooses(nurse):
    client = _client(nurse)

    browser = client.get(reverse("monitoring:profile"), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    assert "Su perfil" in browser.content.decode()
    assert browser.headers["Content-Language"] == "es"

    nurse.language = "en"
    nurse.save(update_fields=["language"])
    chosen = client.get(reverse("monitoring:profile"), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    assert "Your profile" in chosen.content.decode()
    assert chosen.headers["Content-Language"] == "en"


def test_switching_language_on_the_profile_is_saved_and_audited(nurse):
    client = _client(nurse)

    response = client.post(reverse("monitoring:profile-language"), {"language": "es"}, follow=True)

    nurse.refresh_from_db()
    assert nurse.language == "es"
    page = response.content.decode()
    assert "Su idioma se ha guardado." in page
    assert "Su perfil" in page
    event = AuditEvent.objects.get(action=AuditEvent.Action.LANGUAGE_CHANGED)
    assert (event.user, event.details) == (nurse, {"old": "", "new": "es"})
    assert event.summary == "Language: browser → Español"


def test_an_unknown_language_is_refused_and_nothing_is_saved(nurse):
    response = _client(nurse).post(
        reverse("monitoring:profile-language"), {"language": "xx"}, follow=True
    )

    nurse.refresh_from_db()
    assert nurse.language == ""
    assert "Choose one of the languages offered." in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LANGUAGE_CHANGED).exists()


def test_dates_follow_the_language_and_times_stay_in_the_unit_s_zone(spanish_nurse, settings):
    settings.TIME_ZONE = "Europe/Madrid"  # the unit's zone: UTC+1 in December
    PushSubscription.objects.create(
        user=spanish_nurse,
        endpoint="https://push.example.org/abc",
        p256dh="x",
        auth="y",
        created_at=datetime(2026, 12, 3, 13, 5, tzinfo=UTC),
    )

    page = _client(spanish_nurse).get(reverse("monitoring:profile")).content.decode()

    assert "desde 3 de diciembre de 2026 14:05" in page


def test_chart_numbers_stay_with_a_decimal_point_for_a_spanish_reader(spanish_nurse, course):
    _febrile_hypoxic_check(course, spanish_nurse)

    client = _client(spanish_nurse)
    page = client.get(reverse("monitoring:patient-course", args=[course.patient.public_id]))
    # The charts' points, as static/js/course_charts.js fetches them.
    charts = client.get(reverse("monitoring:course-charts", args=[course.patient.public_id]))

    html = page.content.decode()
    assert "38.4" in charts.content.decode()
    assert "38,4" not in charts.content.decode()
    assert json.loads(charts.content)["charts"][0]["title"] == "Temperatura"
    assert "fiebre de 38,4 °C" in html  # while the reasons beside it follow the locale


def test_the_snapshot_stores_codes_not_english(spanish_nurse, course):
    check = _febrile_hypoxic_check(course, spanish_nurse)

    snapshot = GradeSnapshot.objects.get(check_entry=check)
    translation.activate("en")

    assert snapshot.crs_reasons[0]["code"] == "crs.finding_grade"
    assert snapshot.crs_reasons_text[0].startswith("hypoxia on low-flow oxygen 4.5 L/min (recorded")


def test_every_news2_parameter_has_its_words_in_both_languages():
    from django.utils import translation

    from monitoring.grading.news2 import PARAMETER_NAMES
    from monitoring.reasons import NEWS2_PARAMETERS

    assert NEWS2_PARAMETERS.keys() == PARAMETER_NAMES.keys()
    with translation.override("en"):
        assert {k: str(v) for k, v in NEWS2_PARAMETERS.items()} == dict(PARAMETER_NAMES)


def test_a_spanish_writer_leaves_flags_and_the_audit_log_in_english(course, nurse):
    """A flag's message is how the next check recognises it and the audit log is one record
    for every reader: both are written in English whatever the writer's language (readers
    see flags in their own language through message_data)."""
    from datetime import timedelta

    from django.utils import timezone, translation

    from monitoring import services
    from monitoring.models import AuditEvent, Flag, VitalSigns
    from tests.factories import ROOM_AIR

    now = timezone.now()
    with translation.override("es"):
        services.record_check(
            course=course, by=nurse, observed_at=now - timedelta(hours=2), vitals={**ROOM_AIR}
        )
        services.record_check(
            course=course,
            by=nurse,
            observed_at=now - timedelta(hours=1),
            vitals={**ROOM_AIR, "oxygen_support": "low_flow", "oxygen_flow_l_min": 4},
        )
        record = VitalSigns.objects.filter(check_entry__course=course).latest("id")
        services.amend_record(record=record, values={"spo2_pct": 95}, reason="misread", by=nurse)

    oxygen = Flag.objects.get(course=course, kind="oxygen_need")
    assert oxygen.message.startswith("New oxygen need: Room air → Low-flow")
    amended = AuditEvent.objects.get(action=AuditEvent.Action.RECORD_AMENDED)
    assert amended.summary.startswith("Vital signs amended: SpO₂")


def test_every_tocilizumab_dose_warning_reads_in_both_languages():
    """The dose warnings (ASCO 2021, reference §7.1) read in the reader's language; in English
    they are the library's own text, which is what the form posts back and the audit keeps."""
    from datetime import UTC, datetime, timedelta

    from django.utils import translation

    from monitoring.grading import tocilizumab
    from monitoring.reasons import dose_warning

    at = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    warnings = [
        *tocilizumab.dose_limit_warnings([at - timedelta(hours=h) for h in (1, 3, 5)], at),
        *tocilizumab.dose_limit_warnings([at], at),
        *tocilizumab.dose_limit_warnings([at - timedelta(days=d) for d in range(1, 5)], at),
        *tocilizumab.dose_size_warnings(900, "mg", 70),
        *tocilizumab.dose_size_warnings(700, "mg", 70),
        *tocilizumab.dose_size_warnings(5, "mL", 70),
    ]
    codes = {w.code for w in warnings}
    assert codes == {"per_24h", "total", "interval", "max_dose", "above_usual", "unit"}
    with translation.override("en"):
        assert [dose_warning(w) for w in warnings] == [w.message for w in warnings]
    with translation.override("es"):
        spanish = [dose_warning(w) for w in warnings]
    assert "Hay otra dosis registrada a 1,0 h de esta" in " ".join(spanish)
    assert "a la misma hora que esta" in " ".join(spanish)
    assert not set(spanish) & {w.message for w in warnings}
