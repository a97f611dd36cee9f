"""Orchestration: demo users, units and patients, simulated course by course and bulk-written."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

import django
from django.db import connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone, translation

from monitoring import alert_rules, infection, services
from monitoring.demo import bulk
from monitoring.demo.home import ensure_demo_caregiver
from monitoring.demo.journey import seed_journeys
from monitoring.demo.physiology import _dec
from monitoring.demo.plans import PatientPlan, random_plan, scripted_plans
from monitoring.demo.simulator import SimulatedCourse, simulate_course
from monitoring.models import (
    BedsideCheck,
    CareSetting,
    CourseStatus,
    Flag,
    GradeSnapshot,
    LabResult,
    NeuroAssessment,
    OnCallShift,
    Patient,
    ProphylaxisCourse,
    SymptomCheck,
    TherapyProduct,
    Treatment,
    TreatmentCourse,
    Unit,
    User,
    VitalSigns,
)

DEMO_PASSWORD = "cartmonitor-demo"
MRN_PREFIX = "DEMO-"
BATCH_SIZE = 2000
COURSES_PER_CHUNK = 100  # bounds memory: a chunk's rows are written, then dropped

# --------------------------------------------------------------------------------------------
# Fixed vocabularies: units, staff and patient names (deterministic, no Faker).
# --------------------------------------------------------------------------------------------

FIRST_UNITS = [("Haematology Ward 7", "h7"), ("Cellular Therapy Unit", "ctu")]
# Further units for large demos: a ward stem and a code prefix, numbered.
UNIT_STEMS = [
    ("Haematology Ward", "h"),
    ("Oncology Ward", "onc"),
    ("Transplant Unit", "tx"),
    ("Lymphoma Unit", "lym"),
    ("Myeloma Unit", "mm"),
    ("Paediatric Haematology Ward", "ph"),
]
DEMO_USERS = [
    # username, first name, last name, role; the nurse belongs to the first unit only.
    ("demo-nurse", "Nina", "Nurse", User.Role.NURSE),
    ("demo-charge", "Chidi", "Okafor", User.Role.CHARGE_NURSE),
    ("demo-care", "Carl", "Carter", User.Role.CARE_TEAM),
    ("demo-attending", "Alma", "Lindqvist", User.Role.CARE_TEAM),
    ("demo-admin", "Ada", "Admin", User.Role.ADMIN),
]
# Who holds each tier of every demo unit's escalation ladder (open-ended shifts from the
# seeding): the unit's day nurse at the bedside, then these logins.
DEMO_ROTA = [
    (alert_rules.CHARGE_NURSE, "demo-charge"),
    (alert_rules.APP_FELLOW, "demo-care"),
    (alert_rules.ATTENDING, "demo-attending"),
]
FEMALE_NAMES = [
    "Amara",
    "Beatriz",
    "Chloé",
    "Dana",
    "Elif",
    "Fatima",
    "Grace",
    "Hannah",
    "Ingrid",
    "Jasmin",
    "Keiko",
    "Lucia",
    "Maya",
    "Nadia",
    "Olga",
    "Priya",
    "Rosa",
    "Sofia",
    "Tanvi",
    "Ursula",
    "Valeria",
    "Wen",
    "Yasmin",
    "Zofia",
    "Aoife",
    "Marta",
    "Leila",
    "Helen",
    "Joanna",
    "Ruth",
]
MALE_NAMES = [
    "Adam",
    "Bruno",
    "Carlos",
    "Daniel",
    "Emeka",
    "Farid",
    "Georg",
    "Hiroshi",
    "Ivan",
    "Jonas",
    "Kwame",
    "Luca",
    "Mateo",
    "Nikhil",
    "Omar",
    "Pavel",
    "Rafael",
    "Samuel",
    "Tomasz",
    "Viktor",
    "William",
    "Yusuf",
    "Arjun",
    "Ben",
    "Declan",
    "Erik",
    "Hassan",
    "Marco",
    "Peter",
    "Stefan",
]
FAMILY_NAMES = [
    "Abbott",
    "Achterberg",
    "Bianchi",
    "Brennan",
    "Castillo",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Kumar",
    "Larsen",
    "Lindqvist",
    "Mensah",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "O'Neill",
    "Papadopoulos",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Tanaka",
    "Thompson",
    "Uddin",
    "Van Dijk",
    "Walsh",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zielinski",
    "Baker",
    "Cohen",
    "Diallo",
    "Evans",
    "Ferreira",
]


# --------------------------------------------------------------------------------------------
# Orchestration.
# --------------------------------------------------------------------------------------------


@dataclass
class SeedResult:
    created: bool
    counts: dict[str, int]
    seconds: float
    message: str = ""


def seed(
    *,
    patients: int = 12,
    units: int = 2,
    days: int = 14,
    seed: int = 2026,
    now: datetime | None = None,
    workers: int | None = None,
) -> SeedResult:
    """Create the demo users and, unless demo patients exist, the demo hospital.

    ``workers`` processes simulate the courses (default: ``default_workers``); the data is
    the same whatever their number."""
    started = time.monotonic()
    now = (now or timezone.now()).astimezone(UTC).replace(second=0, microsecond=0)
    with transaction.atomic():
        existing = TreatmentCourse.objects.filter(patient__mrn__startswith=MRN_PREFIX)
        if existing.exists() or Patient.objects.filter(mrn__startswith=MRN_PREFIX).exists():
            # Run again: refresh the logins, leave units and clinical data alone.
            first = existing.order_by("patient__mrn").values_list("unit", flat=True).first()
            demo_units = list(Unit.objects.filter(courses__in=existing).distinct())
            _ensure_demo_users([u for u in demo_units if u.pk == first], demo_units)
            # A demo seeded before home monitoring gets its caregiver now (issue 15).
            ensure_demo_caregiver(
                units=demo_units, by=User.objects.get(username="demo-care"), mrn_prefix=MRN_PREFIX
            )
            return SeedResult(
                False,
                {},
                time.monotonic() - started,
                f"Demo data already present: {existing.count()} courses; nothing added.",
            )
        unit_rows = _ensure_units(units)
        _ensure_demo_users(unit_rows[:1], unit_rows)
        nurses = _ensure_unit_nurses(unit_rows)
        _ensure_rota(unit_rows, nurses, now)
        counts = _create_hospital(
            patients=patients,
            units=unit_rows,
            nurses=nurses,
            days=days,
            seed=seed,
            now=now,
            workers=default_workers(patients) if workers is None else workers,
        )
        from monitoring.demo.engagers import create_engager_courses  # step-up dosing (issue 14)

        counts["engager courses"] = create_engager_courses(
            unit=unit_rows[0],
            nurse=nurses[unit_rows[0].pk][0],
            physician=User.objects.get(username="demo-care"),
            admin=User.objects.get(username="demo-admin"),
            now=now,
        )
        counts.update(seed_journeys(units=unit_rows, by=User.objects.get(username="demo-care")))
        counts["home caregivers"] = int(
            ensure_demo_caregiver(
                units=unit_rows, by=User.objects.get(username="demo-care"), mrn_prefix=MRN_PREFIX
            )
        )
    # After a bulk load the planner's statistics are stale until autovacuum catches up; on
    # PostgreSQL that turned a 27 ms save into 260 ms at 1,000 patients. Refresh them now.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return SeedResult(True, counts, time.monotonic() - started)


def _unit_names(count: int) -> list[tuple[str, str]]:
    names = list(FIRST_UNITS[:count])
    number = 1
    while len(names) < count:
        for stem, prefix in UNIT_STEMS:
            candidate = (f"{stem} {number}", f"{prefix}{number}")
            if len(names) < count and candidate not in FIRST_UNITS:
                names.append(candidate)
        number += 1
    return names


def _ensure_units(count: int) -> list[Unit]:
    rows = []
    for name, code in _unit_names(count):
        unit, _ = Unit.objects.get_or_create(code=code, defaults={"name": name})
        rows.append(unit)
    return rows


def _ensure_demo_users(nurse_units: list[Unit], all_units: list[Unit]) -> None:
    """Get or update the three demo logins; the password is reset to the demo password."""
    for username, first, last, role in DEMO_USERS:
        user = User.objects.filter(username=username).first() or User(username=username)
        user.first_name, user.last_name, user.role = first, last, role
        user.email = f"{username}@demo.invalid"
        user.is_staff = user.is_superuser = role == User.Role.ADMIN
        user.is_active = True
        # The demo shows e-mail notifications in the worker's console (README "Jobs").
        user.notify_by_email = role != User.Role.ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.units.set(nurse_units if role == User.Role.NURSE else all_units)


def _ensure_unit_nurses(units: list[Unit]) -> dict[int, tuple[User, User]]:
    """A day and a night nurse per unit, for ``recorded_by``; only demo-nurse can log in."""
    demo_nurse = User.objects.get(username="demo-nurse")
    given_names = [name for pair in zip(FEMALE_NAMES, MALE_NAMES, strict=True) for name in pair]
    nurses = {}
    for index, unit in enumerate(units):
        pair = []
        for shift_index, shift in enumerate(("day", "night")):
            if index == 0 and shift == "day":
                pair.append(demo_nurse)
                continue
            number = index * 2 + shift_index
            user, created = User.objects.get_or_create(
                username=f"demo-{unit.code}-{shift}-nurse",
                defaults={
                    "first_name": given_names[number % len(given_names)],
                    "last_name": FAMILY_NAMES[(number * 7 + 3) % len(FAMILY_NAMES)],
                    "role": User.Role.NURSE,
                },
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.units.set([unit])
            pair.append(user)
        nurses[unit.pk] = tuple(pair)
    return nurses


def _ensure_rota(units: list[Unit], nurses: dict, now: datetime) -> None:
    """Every tier of every demo unit held from two hours before seeding, with no end."""
    logins = {u.username: u for u in User.objects.filter(username__in=[n for _, n in DEMO_ROTA])}
    shifts = []
    for unit in units:
        holders = [(alert_rules.BEDSIDE_NURSE, nurses[unit.pk][0])]
        holders += [(tier, logins[username]) for tier, username in DEMO_ROTA]
        for tier, user in holders:
            user.units.add(unit)
            shifts.append(
                OnCallShift(unit=unit, tier=tier, user=user, starts_at=now - timedelta(hours=2))
            )
    OnCallShift.objects.bulk_create(shifts, batch_size=BATCH_SIZE)


def _create_hospital(*, patients, units, nurses, days, seed, now, workers) -> dict[str, int]:
    jobs = course_jobs(patients=patients, units=units, nurses=nurses, days=days, seed=seed, now=now)
    counts = {"units": len(units), "patients": len(jobs), "courses": len(jobs)}
    chunk = []
    for simulated in _simulated(jobs, workers=workers):
        chunk.append(simulated)
        if len(chunk) == COURSES_PER_CHUNK:
            _write_chunk(chunk, counts)
            chunk = []
    if chunk:
        _write_chunk(chunk, counts)
    physician = jobs[0]["physician"] if jobs else User.objects.get(username="demo-care")
    today = now.astimezone(timezone.get_current_timezone()).date()
    counts["prophylaxis courses"] = _seed_prophylaxis([j["course"] for j in jobs], physician, today)
    # The prophylaxis and IgG flags, as the job worker's sweep raises them (monitoring.infection).
    counts["infection flags synced"] = infection.sweep(now=now)
    return counts


def course_jobs(*, patients, units, nurses, days, seed, now) -> list[dict]:
    """Save the demo patients and their courses; return what ``simulate_course`` needs for
    each, in course order."""
    tz = timezone.get_current_timezone()
    today = now.astimezone(tz).date()
    scripted = scripted_plans(days, random.Random(f"cartmonitor-demo:{seed}:scripted"))
    entries = []  # (plan, patient, course, rng)
    # Product -> the protocol version new courses start on, schedules loaded once.
    versions = {
        product: services.protocol_version_for(product)
        for product in TherapyProduct.objects.values_list("code", flat=True)
    }
    prefetch_related_objects([v for v in versions.values() if v], "schedules")
    for index in range(patients):
        # One generator per patient: a course does not change when --patients does.
        rng = random.Random(f"cartmonitor-demo:{seed}:{index}")
        plan = scripted[index] if index < len(scripted) else random_plan(days, rng)
        unit = units[index % len(units)]
        patient = _make_patient(index, plan, today, rng)
        infused = _infusion_time(plan.day, today, now, tz, rng)
        course = TreatmentCourse(
            patient=patient,
            unit=unit,
            # An outpatient has gone home: no bed on the ward (as a discharge frees it).
            bed=str(index // len(units) + 1) if plan.outpatient_from_day is None else "",
            product_id=plan.product,
            indication=plan.indication,
            infused_at=infused,
            created_at=infused - timedelta(days=1),
            protocol_version=versions.get(plan.product),
            care_setting=CareSetting.INPATIENT
            if plan.outpatient_from_day is None
            else CareSetting.OUTPATIENT,
        )
        entries.append((plan, patient, course, rng))
    Patient.objects.bulk_create([e[1] for e in entries], batch_size=BATCH_SIZE)
    for _, patient, course, _ in entries:
        course.patient = patient  # picks up the new primary key
    TreatmentCourse.objects.bulk_create([e[2] for e in entries], batch_size=BATCH_SIZE)

    physician = User.objects.get(username="demo-care")
    return [
        {
            "plan": plan,
            "patient": patient,
            "course": course,
            "nurses": nurses[course.unit_id],
            "rng": rng,
            "now": now,
            "physician": physician,
        }
        for plan, patient, course, rng in entries
    ]


def _seed_prophylaxis(courses: list[TreatmentCourse], physician: User, today: date) -> int:
    """Antiviral from lymphodepletion (D-5) for every course and PJP from D+14 where reached
    (the default checklist, reference §4.6); one course's antiviral was stopped on D+2 with no
    reason — a lapsed prophylaxis, flagged."""
    rows, lapsed = [], False
    for course in courses:
        day0 = course.infusion_date
        antiviral = ProphylaxisCourse(
            course=course,
            item="antiviral",
            drug="valaciclovir 500 mg twice daily",
            started_on=day0 - timedelta(days=5),
            recorded_by=physician,
        )
        if not lapsed and (today - day0).days >= 4:
            antiviral.stopped_on, lapsed = day0 + timedelta(days=2), True
        rows.append(antiviral)
        if (today - day0).days >= 14:
            rows.append(
                ProphylaxisCourse(
                    course=course,
                    item="pjp",
                    drug="co-trimoxazole 480 mg daily",
                    started_on=day0 + timedelta(days=14),
                    recorded_by=physician,
                )
            )
    ProphylaxisCourse.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    return len(rows)


def _write_chunk(chunk: list[SimulatedCourse], counts: dict[str, int]) -> None:
    """Insert one chunk of courses; each insert sets the keys the next one needs."""

    def insert(model, rows):
        bulk.insert(model, rows)
        label = str(model._meta.verbose_name_plural)
        counts[label] = counts.get(label, 0) + len(rows)

    insert(BedsideCheck, [c for rows in chunk for c in rows.checks])
    for model in (VitalSigns, SymptomCheck, NeuroAssessment, LabResult, Treatment):
        insert(model, [r for rows in chunk for r in rows.records.get(model, ())])
    insert(GradeSnapshot, [s for rows in chunk for s in rows.snapshots])
    insert(Flag, [f for rows in chunk for f in rows.flags])
    insert(CourseStatus, [rows.status for rows in chunk])


# --------------------------------------------------------------------------------------------
# Simulating in worker processes: courses are independent (each has its own generator), so
# two processes simulate them side by side and the rows come back in course order, the same
# rows whatever the number of workers.
# --------------------------------------------------------------------------------------------

PARALLEL_FROM_COURSES = 300  # below this, starting workers costs more than it saves
COURSES_PER_TASK = 25
TASKS_AHEAD = 4  # per worker: bounds the memory held by rows simulated but not yet written


def default_workers(courses: int) -> int:
    """Two workers on a machine with two cores or more, for a hospital large enough."""
    two_cores = (os.cpu_count() or 1) >= 2
    return 2 if two_cores and courses >= PARALLEL_FROM_COURSES else 0


def _simulated(jobs: list[dict], *, workers: int):
    """Each job's SimulatedCourse, in job order; in this process or in ``workers`` others."""
    if workers <= 0:
        for job in jobs:
            yield simulate_course(**job)
        return
    tasks = [jobs[i : i + COURSES_PER_TASK] for i in range(0, len(jobs), COURSES_PER_TASK)]
    # spawn, not fork: a forked child shares the database connection's socket. Each worker
    # sets Django up first (unpickling a task imports the models).
    context = multiprocessing.get_context("spawn")
    setup = (timezone.get_current_timezone_name(), translation.get_language())
    with context.Pool(workers, initializer=django.setup) as pool:
        pending = deque()
        for task in tasks:
            pending.append(pool.apply_async(_simulate_task, (task, *setup)))
            if len(pending) >= workers * TASKS_AHEAD:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def _no_queries(execute, sql, params, many, context):
    raise RuntimeError(f"the demo's course simulation ran a query: {sql}")


def _simulate_task(jobs: list[dict], zone: str, language: str | None) -> list[SimulatedCourse]:
    """In a worker: the courses as the seeding process would simulate them (its time zone and
    language), with no database. A simulation runs no queries; one that did would read
    another transaction's world (the courses are not committed yet) and quietly simulate from
    nothing."""
    if _no_queries not in connection.execute_wrappers:
        connection.execute_wrappers.append(_no_queries)
    with timezone.override(zone), translation.override(language):
        simulated = [simulate_course(**job) for job in jobs]
    for course in simulated:
        _detach(course)
    return simulated


def _detach(course: SimulatedCourse) -> None:
    """Drop the saved objects the rows hold (course, patient, users): their keys are on the
    rows already, and each course's copy of them would travel back with its rows. Unsaved
    ones (a snapshot's check, a flag's snapshot) stay: their keys are given on writing."""
    rows = [*course.checks, *course.snapshots, *course.flags, course.status]
    rows += [record for records in course.records.values() for record in records]
    for row in rows:
        cache = row._state.fields_cache
        for name in [n for n, obj in cache.items() if obj is not None and obj.pk is not None]:
            del cache[name]


def _make_patient(index: int, plan: PatientPlan, today: date, rng: random.Random) -> Patient:
    female = plan.sex == Patient.Sex.FEMALE
    given_names = FEMALE_NAMES if female else MALE_NAMES
    whole = int(plan.age_years)
    birthday = _years_before(today, whole) - timedelta(days=int((plan.age_years - whole) * 365))
    return Patient(
        mrn=f"{MRN_PREFIX}{index + 1:06d}",
        # Each family name is used once before any repeats, and a repeated family name gets a
        # different given name: two "Maya Papadopoulos" on one ward is a wrong-patient risk
        # even in a demo.
        given_name=given_names[(index + index // len(FAMILY_NAMES) * 7) % len(given_names)],
        family_name=FAMILY_NAMES[(index * 17) % len(FAMILY_NAMES)],
        date_of_birth=birthday,
        sex=plan.sex,
        weight_kg=_dec(plan.weight_kg, 1),
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _infusion_time(day: int, today: date, now: datetime, tz, rng: random.Random) -> datetime:
    """A morning infusion ``day`` days ago; today's is kept before now."""
    minutes = rng.randrange(8 * 60 + 30, 11 * 60 + 30, 15)
    local = datetime.combine(
        today - timedelta(days=day), clock(minutes // 60, minutes % 60), tzinfo=tz
    )
    infused = local.astimezone(UTC)
    if infused > now - timedelta(minutes=30):
        # Seeded before the morning round: day 0's infusion is earlier today.
        midnight = datetime.combine(today, clock(0), tzinfo=tz).astimezone(UTC)
        infused = max(midnight, now - timedelta(minutes=90))
    return infused
