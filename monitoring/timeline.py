"""A course's clinical state at a moment: which values are valid then, and how old each is.

A grade belongs to a moment of a course, not to one form (ASTCT grades the patient's state:
fever now or earlier-and-masked, the vasopressors and oxygen running now, the latest neuro
assessment). This module turns time-ordered records into the grading library's plain inputs,
and it is where time enters grading:

- **Point measurements** (temperature, blood pressure, heart and respiratory rate, SpO₂) count
  as "now" only within the protocol's validity window (default: the 4-hourly vitals round of
  reference §6.1 plus one hour's grace). Past it they are not used: the grade says what is
  missing ("blood pressure not measured since D+3 14:00 — hypotension not assessed").
- **Continuous therapies** (oxygen device and flow, vasopressors) carry forward until changed;
  past the protocol's re-confirmation window the grade still uses them and asks for review.
- **Baseline** values (before the infusion, day 0) are never current after it.
- **Fever earlier in the episode** keeps its own ASTCT rule (masked fever, §1.2.2), and after
  long-acting anti-cytokine or steroid therapy new hypotension or hypoxia is graded by that
  rule, with review, for the protocol's masked-fever window — never a silent 0.
- Every deciding value carries its time into the reasons ("SBP 84 mmHg at 14:00, 2 h old").

It runs no queries: ``services`` loads the records once and ``demo`` feeds them from memory,
through ``engine.CourseEngine``, so one code path grades live checks and demo histories.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitoring import grading
from monitoring.grading import CRSInputs, ICANSInputs, Reason
from monitoring.grading.reasons import to_json

FEVER_C = grading.FEVER_C
# A CRS episode ends after this long without fever, hypotension or support (see episode_start).
EPISODE_GAP = timedelta(hours=24)
NEWS2_MIN_AGE = 16  # NEWS2 is not validated under 16 years (reference §8.3)
# ASTCT: antipyretic or anti-cytokine therapy (e.g. tocilizumab or steroids) masks fever once a
# patient who has CRS receives it (reference §1.2.2). Levetiracetam does not.
MASKING_DRUGS = frozenset(
    {"tocilizumab", "dexamethasone", "methylprednisolone", "anakinra", "siltuximab", "antipyretic"}
)
# Of those, the ones whose effect outlasts a CRS episode's 24-hour gap: IL-6 blockade
# (tocilizumab's half-life is concentration-dependent and counted in days in the Actemra label;
# siltuximab's is longer still) and corticosteroid courses. Paracetamol and anakinra act for hours.
LONG_MASKING_DRUGS = frozenset({"tocilizumab", "siltuximab", "dexamethasone", "methylprednisolone"})


@dataclass(frozen=True)
class Windows:
    """How long each kind of value stays current; a protocol version sets them (minutes)."""

    # Vitals at least every 4 h (reference §6.1) plus 1 h grace.
    point: timedelta = timedelta(minutes=300)
    # Oxygen and vasopressors carry forward; re-confirmed at each 4-hourly round, plus 1 h.
    support: timedelta = timedelta(minutes=300)
    # ICE/CAPD every 8 h (reference §6.1, ASH-SAP) plus 1 h grace: older is marked stale.
    neuro: timedelta = timedelta(minutes=540)
    # New hypotension/hypoxia this long after tocilizumab, siltuximab or a steroid is graded
    # by the masked-fever rule with review. 7 days: [M] our reading, see docs/clinical-rules.md.
    masked_fever: timedelta = timedelta(days=7)


DEFAULT_WINDOWS = Windows()


@dataclass
class _Series:
    """Records of one type in clinical-time order, searchable by time."""

    times: list[datetime] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)

    def add(self, at: datetime, record: Any) -> None:
        index = bisect_right(self.times, at)
        self.times.insert(index, at)
        self.records.insert(index, record)

    def upto(self, at: datetime, since: datetime | None = None) -> list[tuple[datetime, Any]]:
        end = bisect_right(self.times, at)
        start = 0 if since is None else bisect_right(self.times, since - timedelta.resolution)
        return list(zip(self.times[start:end], self.records[start:end], strict=True))

    def latest(self, at: datetime, has=lambda record: True, since: datetime | None = None):
        end = bisect_right(self.times, at)
        for index in range(end - 1, -1, -1):
            when = self.times[index]
            if since is not None and when < since:
                break
            if has(self.records[index]):
                return when, self.records[index]
        return None, None

    def last_time(self) -> datetime | None:
        return self.times[-1] if self.times else None


@dataclass
class Moment:
    """Everything graded at one moment: results plus the inputs, stored on the snapshot.

    ``crs_notes``/``icans_notes`` say what was missing or stale (shown after the reasons);
    ``crs_review``/``icans_review`` are the course-level calls a clinician must make, on top of
    the grading library's own review reasons.
    """

    crs: grading.CRSResult | None
    icans: grading.ICANSResult | None
    news2: Any
    inputs: dict
    crs_notes: list[str] = field(default_factory=list)
    crs_review: list[str] = field(default_factory=list)
    icans_notes: list[str] = field(default_factory=list)
    icans_review: list[str] = field(default_factory=list)

    @property
    def crs_review_reasons(self) -> list[str]:
        return [*(self.crs.review_reasons if self.crs else ()), *self.crs_review]

    @property
    def icans_review_reasons(self) -> list[str]:
        return [*(self.icans.review_reasons if self.icans else ()), *self.icans_review]

    def snapshot_fields(self) -> dict:
        crs_review, icans_review = self.crs_review_reasons, self.icans_review_reasons
        crs_reasons = [*(self.crs.reasons if self.crs else ()), *self.crs_notes]
        icans_reasons = [*(self.icans.reasons if self.icans else ()), *self.icans_notes]
        return {
            "crs_grade": self.crs.grade if self.crs else None,
            "crs_reasons": to_json(crs_reasons),
            "crs_needs_review": bool(crs_review),
            "icans_grade": self.icans.grade if self.icans else None,
            "icans_reasons": to_json(icans_reasons),
            "icans_needs_review": bool(icans_review),
            "review_reasons": to_json([*crs_review, *icans_review]),
            "news2_total": self.news2.total if self.news2 else None,
            "news2_risk": self.news2.risk if self.news2 else "",
            "news2_missing": list(self.news2.missing) if self.news2 else [],
            "inputs": self.inputs,
            "rule_version": grading.RULE_VERSION,
        }


def _iso_label(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def age_text(age: timedelta) -> Reason:
    """ "2 h 05 min", "40 min", "3 d 4 h": how old a value was at the graded moment."""
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return Reason("age.min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        if minutes:
            return Reason("age.h_min", hours=hours, minutes=minutes)
        return Reason("age.h", hours=hours)
    days, hours = divmod(hours, 24)
    return Reason("age.d_h", days=days, hours=hours) if hours else Reason("age.d", days=days)


class Timeline:
    """One course's records ordered by clinical time, and its graded state at any moment.

    ``label`` turns a time into the words a nurse reads ("D+3 14:00"); the caller provides it
    (local time zone, day 0), so this module stays free of Django.
    """

    def __init__(
        self,
        *,
        age_at: Callable[[datetime], float],
        infused_at: datetime | None = None,
        windows: Windows = DEFAULT_WINDOWS,
        sbp_threshold: int | None = None,
        label: Callable[[datetime], str] = _iso_label,
    ):
        self.age_at = age_at
        # CRS and ICANS are toxicities of the infused cells: moments before day 0 are a
        # baseline, charted but not graded, and a pre-infusion value is never current after it.
        self.infused_at = infused_at
        self.windows = windows
        self.sbp_threshold = sbp_threshold
        self.label = label
        self.vitals = _Series()
        self.neuro = _Series()
        self.treatments = _Series()
        self.symptoms = _Series()
        self.labs = _Series()

    def series(self, kind: str) -> _Series:
        return {
            "vitals": self.vitals,
            "neuro": self.neuro,
            "treatment": self.treatments,
            "symptoms": self.symptoms,
            "labs": self.labs,
        }[kind]

    def _since(self, at: datetime) -> datetime | None:
        """The earliest time a value may come from to be current at ``at``."""
        if self.infused_at is not None and at >= self.infused_at:
            return self.infused_at
        return None

    def _when(self, value_at: datetime, at: datetime) -> Reason:
        """ "at D+3 14:00, 2 h old" or "at D+3 14:00, this check"."""
        age = at - value_at
        if age <= timedelta(0):
            return Reason("when.this_check", label=self.label(value_at))
        return Reason("when.old", label=self.label(value_at), age=age_text(age))

    # --- CRS ----------------------------------------------------------------------------------

    def support_at(self, at: datetime):
        """(time, vital-signs record) of the oxygen and vasopressors running at ``at``."""
        return self.vitals.latest(at, _records_support, since=self._since(at))

    def crs_inputs(self, at: datetime):
        """CRSInputs at ``at``, a JSON-able record of what was used, notes and review reasons.

        Returns (None, {}, [], []) when no vital signs were recorded since day 0, and
        (None, used, notes, []) when none is current (CRS not assessed, the notes say why).
        """
        since = self._since(at)
        latest_at, _ = self.vitals.latest(at, since=since)
        if latest_at is None:
            return None, {}, [], []
        windows, notes, review, sources = self.windows, [], [], {}

        temp_at, with_temp = self.vitals.latest(at, _has("temp_c"), since=since)
        temperature = None
        if with_temp is not None and at - temp_at <= windows.point:
            temperature = float(with_temp.temp_c)
            sources["fever"] = self._when(temp_at, at)
        elif with_temp is not None:
            notes.append(
                Reason(
                    "note.temperature_stale",
                    label=self.label(temp_at),
                    age=age_text(at - temp_at),
                )
            )
        else:
            notes.append(Reason("note.no_temperature"))

        episode_start = self.episode_start(at)
        # The episode's fevers (none without an episode); episode_start is never before since.
        fevers = (
            [when for when, v in self.vitals.upto(at, since=episode_start) if _febrile(v)]
            if episode_start is not None
            else []
        )
        current_temp_at = temp_at if temperature is not None else None
        earlier_fevers = [w for w in fevers if current_temp_at is None or w < current_temp_at]
        first_fever = fevers[0] if fevers else None
        # Therapy after the episode's first fever masks it (§1.2.2); without a fever, therapy in
        # the episode or the day before it may hide one (§1.5.3: a clinician must confirm).
        masking_since = first_fever or (episode_start - EPISODE_GAP if episode_start else None)
        masking = [
            (when, t.drug)
            for when, t in self.treatments.upto(at)
            if t.drug in MASKING_DRUGS and masking_since is not None and when >= masking_since
        ]

        sbp_at, with_sbp = self.vitals.latest(at, _has("sbp_mmhg"), since=since)
        age = self.age_at(at)
        threshold = grading.hypotension_threshold_mmhg(age, protocol_mmhg=self.sbp_threshold)
        hypotension, sbp = False, None
        if with_sbp is not None and at - sbp_at <= windows.point:
            sbp = with_sbp.sbp_mmhg
            hypotension = grading.is_hypotensive(sbp, age, threshold=self.sbp_threshold)
            sources["hypotension"] = Reason("source.sbp", sbp=sbp, when=self._when(sbp_at, at))
        elif with_sbp is not None:
            notes.append(
                Reason("note.sbp_stale", label=self.label(sbp_at), age=age_text(at - sbp_at))
            )
        else:
            notes.append(Reason("note.no_sbp"))

        support_at, support = self.support_at(at)
        oxygen, flow, pressors, vasopressin = grading.Oxygen.ROOM_AIR, None, 0, False
        if support is None:
            notes.append(Reason("note.no_support"))
        else:
            oxygen = support.oxygen_support or grading.Oxygen.ROOM_AIR
            flow = float(support.oxygen_flow_l_min) if support.oxygen_flow_l_min else None
            pressors, vasopressin = support.vasopressors_count, support.vasopressin
            started = self._support_started(at, support)
            running = Reason("source.recorded", when=self._when(support_at, at))
            if started < support_at:
                running = Reason(
                    "source.running_since",
                    label=self.label(started),
                    when=self._when(support_at, at),
                )
            sources["hypoxia"] = running
            if pressors or vasopressin:
                sources["hypotension"] = running
            on_support = oxygen != grading.Oxygen.ROOM_AIR or pressors or vasopressin
            if on_support and at - support_at > windows.support:
                review.append(
                    Reason(
                        "review.support_stale",
                        label=self.label(support_at),
                        age=age_text(at - support_at),
                    )
                )
            elif at - support_at > windows.support:
                notes.append(
                    Reason(
                        "note.support_stale_room_air",
                        label=self.label(support_at),
                        age=age_text(at - support_at),
                    )
                )

        # After long-acting anti-cytokine or steroid therapy, fever can stay suppressed for
        # days: past the 24-hour episode gap, new hypotension or hypoxia is still graded by
        # the masked-fever rule, and a clinician confirms (issue 10 §4; ref §1.2.2).
        fever_now = temperature is not None and temperature >= FEVER_C
        long_masking = self._long_masking(at)
        # Positive pressure only for airway protection is not hypoxia (ref §1.2.8).
        airway_only = bool(support and support.oxygen_for_airway_protection)
        hypoxic = oxygen != grading.Oxygen.ROOM_AIR and not airway_only
        if long_masking and not fever_now and not earlier_fevers and (hypotension or hypoxic):
            drug_at, drug = long_masking
            fever_before = self.vitals.latest(drug_at, _febrile, since=since)[0]
            masking.append((drug_at, drug))
            if fever_before is not None:
                earlier_fevers.append(fever_before)
                review.append(
                    Reason(
                        "review.masked_after_long_therapy",
                        age=age_text(at - drug_at),
                        drug=drug,
                        label=self.label(drug_at),
                    )
                )
        # Nothing current to grade: no temperature and no pressure within the window, no
        # oxygen or vasopressor running, no fever earlier in the episode. "CRS 0" would be a
        # stale value graded as current (issue 10 §1): the moment is not assessed.
        running = support is not None and (hypoxic or pressors or vasopressin)
        if temperature is None and sbp is None and not running and not earlier_fevers:
            notes.insert(0, Reason("note.crs_not_assessed"))
            return None, {"not_assessed": True, "support_at": _iso(support_at)}, notes, []
        if earlier_fevers and not fever_now and "fever" not in sources:
            sources["fever"] = Reason("source.first_fever", label=self.label(earlier_fevers[0]))
        elif earlier_fevers and not fever_now:
            sources["fever"] = Reason(
                "source.and_first_fever",
                source=sources["fever"],
                label=self.label(earlier_fevers[0]),
            )

        inputs = CRSInputs(
            temperature_c=temperature,
            fever_earlier=bool(earlier_fevers),
            fever_masking_therapy=bool(masking),
            hypotension=hypotension,
            vasopressors=pressors,
            vasopressin=vasopressin,
            oxygen=oxygen,
            oxygen_flow_l_min=flow,
            airway_protection_only=bool(
                support is not None and support.oxygen_for_airway_protection
            ),
            sources=sources,
        )
        used = {
            "temperature_c": temperature,
            "temperature_at": _iso(temp_at if temperature is not None else None),
            "episode_start": _iso(episode_start),
            "first_fever_at": _iso(first_fever or (earlier_fevers[0] if earlier_fevers else None)),
            "fever_earlier": inputs.fever_earlier,
            "fever_masking_therapy": [f"{drug} at {_iso(when)}" for when, drug in masking],
            "sbp_mmhg": sbp,
            "sbp_at": _iso(sbp_at if sbp is not None else None),
            "hypotension_threshold_mmhg": threshold,
            "hypotension": hypotension,
            "vasopressors": inputs.vasopressors,
            "vasopressin": inputs.vasopressin,
            "oxygen": str(inputs.oxygen) if support is not None else None,
            "oxygen_flow_l_min": inputs.oxygen_flow_l_min,
            "airway_protection_only": inputs.airway_protection_only,
            "support_at": _iso(support_at),
        }
        return inputs, used, notes, review

    def _support_started(self, at: datetime, support) -> datetime:
        """When the support running at ``at`` (same device, flow and vasopressors) began."""
        key = _support_key(support)
        started = at
        for when, record in reversed(self.vitals.upto(at, since=self._since(at))):
            if not _records_support(record):
                continue
            if _support_key(record) != key:
                break
            started = when
        return started

    def _long_masking(self, at: datetime):
        """The latest tocilizumab, siltuximab or steroid dose within the masked-fever window."""
        since = self._since(at)
        for when, treatment in reversed(self.treatments.upto(at, since=since)):
            if at - when > self.windows.masked_fever:
                break
            if treatment.drug in LONG_MASKING_DRUGS:
                return when, treatment.drug
        return None

    def episode_start(self, at: datetime):
        """When the CRS episode still running at ``at`` began, or None if none is running.

        ASTCT lets masked fever stand in for fever "once a patient who has CRS" is treated, but
        does not say when CRS has ended (reference §1.2.2, §1.5.4). We close an episode after
        24 hours without fever, hypotension, vasopressors or oxygen — the usual "resolved for
        24 h" reading [M] — so one dose of paracetamol cannot mask fever for the whole course.
        """
        cursor, start = at, None
        for when, vitals in reversed(self.vitals.upto(at, since=self._since(at))):
            # Records only get older: once one is a full gap before the cursor, so is every
            # earlier one, abnormal or not. Stopping here, not at the first abnormal record
            # past the gap, keeps the scan to the episode instead of the whole course.
            if cursor - when >= EPISODE_GAP:
                break
            if self._abnormal(vitals, when):
                start = cursor = when
        return start

    def _abnormal(self, vitals, when: datetime) -> bool:
        hypotensive = vitals.sbp_mmhg is not None and grading.is_hypotensive(
            vitals.sbp_mmhg, self.age_at(when), threshold=self.sbp_threshold
        )
        return bool(
            _febrile(vitals)
            or hypotensive
            or vitals.vasopressors_count > 0
            or vitals.vasopressin
            or (
                vitals.oxygen_support not in ("", None, grading.Oxygen.ROOM_AIR)
                # positive pressure only for airway protection is not hypoxia (ref §1.2.8)
                and not vitals.oxygen_for_airway_protection
            )
        )

    # --- ICANS --------------------------------------------------------------------------------

    def icans_inputs(self, at: datetime):
        """ICANSInputs from the latest neuro assessment since day 0, with its age.

        Returns (None, {}, notes, []) when there is none. An assessment older than the
        protocol's neuro window still grades (the last known state; ICANS does not vanish
        because a check is late) but is marked stale, in the reasons and in ``inputs``.
        """
        neuro_at, neuro = self.neuro.latest(at, since=self._since(at))
        if neuro is None:
            return None, {}, [], []
        inputs = ICANSInputs(
            ice_score=neuro.ice_total,
            capd_score=neuro.capd_total,
            consciousness=neuro.consciousness,
            seizure=neuro.seizure,
            motor_weakness=neuro.motor_weakness,
            cerebral_edema=neuro.cerebral_edema,
            consciousness_attributable_to=neuro.consciousness_attributable_to or None,
            consciousness_other_cause=neuro.consciousness_other_cause,
        )
        review = []
        # The screen must fit the age that day (ref §2.3); a date of birth corrected since can
        # leave an ICE for a child under 12, or a CAPD from the 12th birthday, on file.
        child = self.age_at(neuro_at) < grading.ICE_FROM_AGE_YEARS
        if (child and neuro.ice_total is not None) or (not child and neuro.capd_total is not None):
            tool, due = ("ICE", "CAPD") if child else ("CAPD", "ICE")
            review.append(
                Reason("review.screen_for_age", tool=tool, label=self.label(neuro_at), due=due)
            )
        stale = at - neuro_at > self.windows.neuro
        code = "note.neuro_stale" if stale else "note.neuro"
        notes = [Reason(code, when=self._when(neuro_at, at))]
        used = {
            "assessed_at": _iso(neuro_at),
            "stale": stale,
            "ice_score": neuro.ice_total,
            "capd_score": neuro.capd_total,
            "consciousness": neuro.consciousness,
            "seizure": neuro.seizure,
            "motor_weakness": neuro.motor_weakness,
            "cerebral_edema": neuro.cerebral_edema,
            "unable_to_assess_reason": neuro.unable_to_assess_reason,
            "consciousness_attributable_to": neuro.consciousness_attributable_to or None,
            "consciousness_other_cause": neuro.consciousness_other_cause,
        }
        return inputs, used, notes, review

    # --- NEWS2 and the whole moment -----------------------------------------------------------

    def news2_at(self, at: datetime):
        """NEWS2 from the vital signs recorded at this very check (adults only), or None.

        NEWS2 is an observation-set score (RCP 2017): it is computed from one set of vitals, so
        only a check that recorded vital signs has one.
        """
        if self.age_at(at) < NEWS2_MIN_AGE:
            return None
        vitals_at, vitals = self.vitals.latest(at)
        if vitals is None or vitals_at != at:
            return None
        _, neuro = self.neuro.latest(at, since=self._since(at))
        # NEWS2 scores new confusion like any other loss of alertness (reference §8.1).
        symptoms_at, symptoms = self.symptoms.latest(at)
        new_confusion = symptoms_at == at and symptoms.confusion
        alert = not new_confusion and (neuro is None or neuro.consciousness == "alert")
        _, support = self.support_at(at)
        on_oxygen = support is not None and support.oxygen_support not in ("", "room_air")
        return grading.news2(
            respiration_rate=vitals.resp_rate_per_min,
            spo2_pct=vitals.spo2_pct,
            on_oxygen=on_oxygen,
            systolic_bp=vitals.sbp_mmhg,
            pulse=vitals.heart_rate_bpm,
            consciousness_alert=alert,
            temperature_c=float(vitals.temp_c) if vitals.temp_c is not None else None,
        )

    def grade_at(self, at: datetime) -> Moment:
        """Grade CRS, ICANS and NEWS2 at ``at`` from the records valid then."""
        if self.infused_at is not None and at < self.infused_at:
            return Moment(
                crs=None,
                icans=None,
                news2=self.news2_at(at),
                inputs={"age_years": round(self.age_at(at), 2), "baseline": True},
            )
        crs_in, crs_used, crs_notes, crs_review = self.crs_inputs(at)
        icans_in, icans_used, icans_notes, icans_review = self.icans_inputs(at)
        return Moment(
            crs=grading.grade_crs(crs_in) if crs_in else None,
            icans=grading.grade_icans(icans_in) if icans_in else None,
            news2=self.news2_at(at),
            inputs={"age_years": round(self.age_at(at), 2), "crs": crs_used, "icans": icans_used},
            crs_notes=crs_notes,
            crs_review=crs_review,
            icans_notes=icans_notes,
            icans_review=icans_review,
        )


def _has(name: str):
    return lambda record: getattr(record, name) is not None


def _records_support(vitals) -> bool:
    """Whether a vital-signs record says what oxygen and vasopressors were running."""
    return bool(vitals.oxygen_support) or vitals.vasopressors_count > 0 or vitals.vasopressin


def _support_key(vitals) -> tuple:
    return (
        vitals.oxygen_support or "room_air",
        vitals.oxygen_flow_l_min,
        vitals.vasopressors_count,
        vitals.vasopressin,
    )


def _febrile(vitals) -> bool:
    return vitals.temp_c is not None and float(vitals.temp_c) >= FEVER_C


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
