"""The bedside check: one page, five optional sections, validated together, saved together."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from monitoring import grading, services
from monitoring.forms.common import (
    DoseDecisionForm,
    ObservationTimeForm,
    SectionMixin,
    _apply_ranges,
)
from monitoring.models import (
    CAPD_ITEM_FIELDS,
    ICE_ITEM_FIELDS,
    LAB_RANGES,
    VITAL_RANGES,
    CheckNotDone,
    CheckSetting,
    CheckType,
    LabResult,
    NeuroAssessment,
    SymptomCheck,
    Treatment,
    VitalSigns,
)
from monitoring.models.courses import REMOTE_CHECKS, STAFF_CHECK_SETTINGS
from monitoring.templatetags.monitoring_tags import day_number


class VitalSignsForm(SectionMixin, forms.ModelForm):
    section_title = _("Vital signs and support")
    temperature = forms.DecimalField(
        label=_("Temperature"),
        required=False,
        max_digits=5,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )
    temperature_unit = forms.ChoiceField(
        label=_("Unit"), choices=[("C", "°C"), ("F", "°F")], initial="C"
    )
    MEASURED = [
        "temperature",
        "heart_rate_bpm",
        "resp_rate_per_min",
        "sbp_mmhg",
        "dbp_mmhg",
        "spo2_pct",
    ]
    # The form's fields that enter a model field under another name (REMOTE_CHECKS names the
    # model's): the temperature and its unit are stored as temp_c.
    STORED_AS = {"temperature": "temp_c", "temperature_unit": "temp_c"}
    SUPPORT = [
        "oxygen_support",
        "oxygen_flow_l_min",
        "oxygen_for_airway_protection",
        "vasopressors_count",
        "vasopressin",
    ]

    class Meta:
        model = VitalSigns
        fields = [
            "heart_rate_bpm",
            "resp_rate_per_min",
            "sbp_mmhg",
            "dbp_mmhg",
            "spo2_pct",
            "oxygen_support",
            "oxygen_flow_l_min",
            "oxygen_for_airway_protection",
            "vasopressors_count",
            "vasopressin",
        ]
        labels = {
            "oxygen_support": _("Oxygen support"),
            "oxygen_for_airway_protection": _("For airway protection only, not hypoxia"),
        }
        help_texts = {
            "oxygen_for_airway_protection": _(
                "CPAP, BiPAP or ventilation only to protect the airway (e.g. low GCS) or for a "
                "procedure: not graded as CRS hypoxia; a clinician confirms."
            )
        }

    def __init__(self, *args, carried_forward=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in (
            "heart_rate_bpm",
            "resp_rate_per_min",
            "sbp_mmhg",
            "dbp_mmhg",
            "spo2_pct",
            "oxygen_flow_l_min",
        ):
            self.fields[name].required = False
        _apply_ranges(self, {k: v for k, v in VITAL_RANGES.items() if k != "temp_c"})
        self.fields["temperature"].help_text = gettext("30–45 °C or 86–113 °F")
        self.fields["vasopressors_count"].help_text = gettext(
            "Norepinephrine, epinephrine, phenylephrine, dopamine… — do not count vasopressin."
        )
        # At the bedside the nurse always says what oxygen is running ("not recorded" is only
        # for other callers of the service); room air until a record says otherwise.
        oxygen = self.fields["oxygen_support"]
        oxygen.required, oxygen.choices = True, VitalSigns.Oxygen.choices
        self.initial.setdefault("oxygen_support", VitalSigns.Oxygen.ROOM_AIR)
        # Oxygen and vasopressors carry forward from the last entry: a temperature-only entry
        # must never silently switch a patient's oxygen off.
        if carried_forward is not None:
            for name in self.SUPPORT:
                self.initial[name] = getattr(carried_forward, name)

    def content_fields(self) -> list[str]:
        return [name for name in self.changed_data if name != "temperature_unit"]

    def clean(self):
        data = super().clean()
        temperature, unit = data.get("temperature"), data.get("temperature_unit")
        if temperature is not None:
            celsius = (temperature - 32) * 5 / 9 if unit == "F" else temperature
            celsius = Decimal(celsius).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            low, high = VITAL_RANGES["temp_c"]
            if not low <= celsius <= high:
                self.add_error(
                    "temperature",
                    gettext(
                        "Temperature must be between %(low)s and %(high)s °C "
                        "(86 and 113 °F); got %(value)s °%(unit)s."
                    )
                    % {"low": low, "high": high, "value": temperature, "unit": unit},
                )
            data["temp_c"] = celsius
        else:
            data["temp_c"] = None
        support, flow = data.get("oxygen_support"), data.get("oxygen_flow_l_min")
        if support == VitalSigns.Oxygen.ROOM_AIR and flow is not None:
            self.add_error(
                "oxygen_flow_l_min",
                gettext(
                    "An oxygen flow cannot be given on room air: choose the device, or clear the "
                    "flow."
                ),
            )
        if data.get("oxygen_for_airway_protection") and support not in VitalSigns.POSITIVE_PRESSURE:
            self.add_error(
                "oxygen_for_airway_protection",
                gettext(
                    "Only CPAP, BiPAP or mechanical ventilation can be for airway protection: "
                    "choose the device, or clear this box."
                ),
            )
        if support in (VitalSigns.Oxygen.LOW_FLOW, VitalSigns.Oxygen.HIGH_FLOW) and flow is None:
            self.add_error(
                "oxygen_flow_l_min",
                gettext(
                    "Give the flow in L/min: ASTCT grades nasal "
                    "cannula oxygen by flow (≤ 6 L/min low flow, > 6 high flow)."
                ),
            )
        sbp, dbp = data.get("sbp_mmhg"), data.get("dbp_mmhg")
        if sbp is not None and dbp is not None and dbp >= sbp:
            self.add_error(
                "dbp_mmhg", gettext("Diastolic pressure must be below systolic pressure.")
            )
        if not any(data.get(name) is not None for name in self.MEASURED) and not (
            set(self.changed_data) & set(self.SUPPORT)
        ):
            raise ValidationError(gettext("Vital signs: enter at least one measurement."))
        return data

    def model_values(self) -> dict:
        return {**super().model_values(), "temp_c": self.cleaned_data["temp_c"]}


class SymptomForm(SectionMixin, forms.ModelForm):
    """The seed symptom lists. A review that found nothing is recorded with "No symptoms": an
    unticked box says nothing, so without it a well patient's review could never be saved and
    would stay overdue (issue 10 §6)."""

    section_title = _("Symptoms")
    no_symptoms = forms.BooleanField(
        label=_("No symptoms"),
        required=False,
        help_text=_("Reviewed with the patient: none of the symptoms below."),
    )

    class Meta:
        model = SymptomCheck
        fields = [*SymptomCheck.CRS_SYMPTOMS, *SymptomCheck.NEURO_SYMPTOMS, "other"]
        labels = {
            "fever": _("Fever"),
            "low_blood_pressure": _("Low blood pressure / dizziness"),
            "fatigue": _("Fatigue"),
            "breathing_difficulty": _("Breathing difficulty"),
            "confusion": _("Confusion"),
            "headache": _("Headache"),
            "tremor": _("Tremor"),
            "difficulty_speaking": _("Difficulty speaking"),
        }

    def clean(self):
        data = super().clean()
        found = [
            str(self.fields[name].label)
            for name in (*SymptomCheck.CRS_SYMPTOMS, *SymptomCheck.NEURO_SYMPTOMS)
            if data.get(name)
        ]
        if data.get("other", "").strip():
            found.append(gettext("other symptoms"))
        if data.get("no_symptoms") and found:
            raise ValidationError(
                gettext(
                    "“No symptoms” is ticked together with %(symptoms)s: untick “No symptoms”, "
                    "or clear the symptoms."
                )
                % {"symptoms": ", ".join(f[:1].lower() + f[1:] for f in found)}
            )
        return data


def ice_item_label(item: grading.ICEItem) -> str:
    """ "Orientation — year, month, city, hospital (4 points)": each item said once."""
    points = ngettext("%(count)d point", "%(count)d points", item.max_points) % {
        "count": item.max_points
    }
    return f"{ICE_TITLES[item.name]} — {ICE_TASKS[item.name]} ({points})"


# The grading library (no Django) words the ICE items and CAPD questions in English; the page
# shows them in the reader's language through these tables, keyed by item name / position.
# tests/web/test_translations_p2nurse.py proves they cover the library's items.
ICE_TITLES = {
    "orientation": _("Orientation"),
    "naming": _("Naming"),
    "commands": _("Following commands"),
    "writing": _("Writing"),
    "attention": _("Attention"),
}
ICE_TASKS = {
    "orientation": _("year, month, city, hospital"),
    "naming": _("3 objects, e.g. point to clock, pen, button"),
    "commands": _('a simple command, e.g. "Show me 2 fingers"'),
    "writing": _('a standard sentence, e.g. "Our national bird is the bald eagle"'),
    "attention": _("count backwards from 100 by 10"),
}
CAPD_QUESTIONS = (
    _("Does the child make eye contact with the caregiver?"),
    _("Are the child's actions purposeful?"),
    _("Is the child aware of his/her surroundings?"),
    _("Does the child communicate needs and wants?"),
    _("Is the child restless?"),
    _("Is the child inconsolable?"),
    _("Is the child underactive (very little movement while awake)?"),
    _("Does it take the child a long time to respond to interactions?"),
)

CAPD_ANSWERS = [
    (0, _("Never")),
    (1, _("Rarely")),
    (2, _("Sometimes")),
    (3, _("Often")),
    (4, _("Always")),
]


class NeuroForm(SectionMixin, forms.ModelForm):
    """ICE for patients aged 12 and over, CAPD under 12 (ASTCT/ASCO, reference §2.3)."""

    section_title = _("Neurological assessment")
    unable_to_assess = forms.BooleanField(
        label=_("Unable to perform ICE/CAPD"),
        required=False,
        help_text=_("Sedated, intubated, language barrier… give the reason."),
    )

    class Meta:
        model = NeuroAssessment
        fields = [
            *ICE_ITEM_FIELDS,
            *CAPD_ITEM_FIELDS,
            "consciousness",
            "consciousness_attributable_to",
            "consciousness_other_cause",
            "seizure",
            "motor_weakness",
            "cerebral_edema",
            "unable_to_assess_reason",
        ]
        labels = {
            "seizure": _("Seizure"),
            "motor_weakness": _("Motor weakness"),
            "consciousness_attributable_to": _("Depressed consciousness due to another cause?"),
            "consciousness_other_cause": _("Other cause"),
        }
        help_texts = {
            "consciousness_attributable_to": _(
                "ASTCT grades it only when not due to another cause, e.g. sedating drugs: "
                "then consciousness and ICE/CAPD are not graded and a clinician confirms."
            ),
            "consciousness_other_cause": _("Only for 'Other cause', e.g. hypoglycaemia."),
        }

    def __init__(self, *args, capd: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.capd = capd
        self.score_fields = CAPD_ITEM_FIELDS if capd else ICE_ITEM_FIELDS
        for name in [*ICE_ITEM_FIELDS, *CAPD_ITEM_FIELDS]:
            if name not in self.score_fields:
                del self.fields[name]
        self.item_names = {}  # how an error names an item left blank
        if capd:
            for name, question in zip(CAPD_ITEM_FIELDS, CAPD_QUESTIONS, strict=True):
                self.item_names[name] = str(question)
                self.fields[name] = forms.TypedChoiceField(
                    label=question,
                    choices=CAPD_ANSWERS,
                    coerce=int,
                    required=False,
                    empty_value=None,
                    widget=forms.RadioSelect,
                )
        else:
            for name, item in zip(ICE_ITEM_FIELDS, grading.ICE_ITEMS, strict=True):
                self.item_names[name] = str(ICE_TITLES[item.name])
                points = item.max_points
                self.fields[name] = forms.TypedChoiceField(
                    label=ice_item_label(item),
                    choices=[("", "—"), *[(n, f"{n}/{points}") for n in range(points + 1)]],
                    coerce=int,
                    required=False,
                    empty_value=None,
                )
        self.fields["consciousness"].required = False
        self.fields["consciousness"].choices = [("", "—"), *NeuroAssessment.Consciousness.choices]
        self.fields["consciousness_attributable_to"].choices = [
            ("", _("No")),
            *NeuroAssessment.ConsciousnessCause.choices,
        ]
        self.fields["unable_to_assess_reason"].required = False
        self.order_fields(
            [
                *self.score_fields,
                "unable_to_assess",
                "unable_to_assess_reason",
                "consciousness",
                "consciousness_attributable_to",
                "consciousness_other_cause",
                "seizure",
                "motor_weakness",
                "cerebral_edema",
            ]
        )

    def content_fields(self) -> list[str]:
        # A select left on "none" says nothing; a score of 0 does.
        return [name for name in self.changed_data if self[name].value() not in ("", None, "none")]

    def clean(self):
        data = super().clean()
        scores = {name: data.get(name) for name in self.score_fields}
        missing = [self.item_names[n] for n, v in scores.items() if v is None]
        tool = "CAPD" if self.capd else "ICE"
        cause = data.get("consciousness_attributable_to")
        if not cause and data.get("consciousness_other_cause"):
            self.add_error(
                "consciousness_other_cause",
                gettext("Give an other cause only with 'Other cause (say which)' above."),
            )
        if cause:  # the screen is not assessable; the service records why
            self._clean_attribution(data, cause, tool, scored=len(missing) < len(scores))
        elif data.get("unable_to_assess"):
            if len(missing) < len(scores):
                raise ValidationError(
                    gettext(
                        "%(tool)s items were scored, so the patient was not "
                        "'unable to assess': clear one or the other."
                    )
                    % {"tool": tool}
                )
            if not data.get("unable_to_assess_reason"):
                self.add_error(
                    "unable_to_assess_reason", gettext("Say why the screen was not possible.")
                )
        elif missing:
            raise ValidationError(
                gettext(
                    "Complete every %(tool)s item, or tick 'unable to perform' "
                    "(missing: %(missing)s)."
                )
                % {"tool": tool, "missing": ", ".join(missing)}
            )
        else:
            data["unable_to_assess_reason"] = ""
        if not data.get("consciousness"):
            self.add_error("consciousness", gettext("Record the level of consciousness."))
        return data

    def _clean_attribution(self, data, cause, tool, *, scored: bool) -> None:
        """Depressed consciousness with another cause (reference §2.2 †): no screen to score."""
        if scored:
            raise ValidationError(
                gettext(
                    "Depressed consciousness attributed to another cause: the %(tool)s is not "
                    "assessable, so clear its items (or clear the cause)."
                )
                % {"tool": tool}
            )
        if data.get("consciousness") == NeuroAssessment.Consciousness.ALERT:
            self.add_error(
                "consciousness_attributable_to",
                gettext("The patient is alert: there is no depressed consciousness to attribute."),
            )
        other = cause == NeuroAssessment.ConsciousnessCause.OTHER
        if other and not data.get("consciousness_other_cause"):
            self.add_error("consciousness_other_cause", gettext("Name the other cause."))
        if not other and data.get("consciousness_other_cause"):
            self.add_error(
                "consciousness_other_cause",
                gettext("Give an other cause only with 'Other cause (say which)' above."),
            )
        if not data.get("unable_to_assess"):
            data["unable_to_assess_reason"] = ""

    def model_values(self) -> dict:
        values = {
            name: self.cleaned_data.get(name) for name in self._meta.fields if name in self.fields
        }
        return values


class LabForm(SectionMixin, forms.ModelForm):
    section_title = _("Labs and inflammatory markers")

    class Meta:
        model = LabResult
        fields = list(LAB_RANGES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
        _apply_ranges(self, LAB_RANGES)

    def clean(self):
        data = super().clean()
        if all(data.get(name) is None for name in LAB_RANGES):
            raise ValidationError(gettext("Labs: enter at least one result."))
        return data


class TreatmentForm(SectionMixin, forms.ModelForm):
    section_title = _("Treatment given")

    class Meta:
        model = Treatment
        fields = ["drug", "drug_other", "dose", "dose_unit", "route"]
        labels = {
            "drug": _("Drug"),
            "dose": _("Dose"),
            "dose_unit": _("Dose unit"),
            "route": _("Route"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["drug"].choices = [("", "—"), *Treatment.Drug.choices]
        self.fields["drug"].required = False
        self.fields["dose"].required = False
        self.fields["dose"].widget.attrs.update({"min": "0", "step": "any"})

    def content_fields(self) -> list[str]:
        return [name for name in self.changed_data if name in ("drug", "drug_other", "dose")]

    def clean(self):
        data = super().clean()
        if not data.get("drug"):
            self.add_error("drug", gettext("Choose the drug given."))
        if data.get("dose") is None:
            self.add_error("dose", gettext("Give the dose."))
        elif data["dose"] <= 0:
            self.add_error("dose", gettext("The dose must be more than 0."))
        if data.get("drug") == Treatment.Drug.OTHER and not data.get("drug_other"):
            self.add_error("drug_other", gettext("Name the drug."))
        return data


def support_values(vitals) -> dict:
    """Oxygen and vasopressor fields of a vital-signs record; the model defaults without one."""
    if vitals is None:
        vitals = VitalSigns()  # room air, no vasopressors
    return {name: getattr(vitals, name) for name in VitalSignsForm.SUPPORT}


def carried_from_text(vitals, course) -> str:
    """Where carried-forward support came from: "the D+3 04:00 check" or "no earlier record"."""
    if vitals is None:
        return gettext("no earlier record")
    at = timezone.localtime(vitals.check_entry.observed_at)
    return gettext("the %(day)s %(time)s check") % {
        "day": day_number(course, at),
        "time": f"{at:%H:%M}",
    }


_SAME = object()


class CheckSettingForm(forms.Form):
    """Where the check is done: offered from the course's care setting (inpatient → ward,
    outpatient → clinic visit); what each setting can record is the service's rule."""

    label = _("Setting")
    setting = forms.ChoiceField(
        label=_("Where is this check done?"),
        choices=[(s.value, s.label) for s in STAFF_CHECK_SETTINGS],
        widget=forms.RadioSelect,
        required=False,  # a post without it (an older page, an API client) is the default
    )

    def __init__(self, *args, course, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["setting"].initial = course.default_check_setting
        phone = services.remote_allowed_text(CheckSetting.PHONE)
        self.fields["setting"].help_text = gettext("By phone: %(allowed)s.") % {"allowed": phone}

    def value(self) -> str:
        if self.is_bound and self.is_valid() and self.cleaned_data["setting"]:
            return self.cleaned_data["setting"]
        return self.fields["setting"].initial


class CheckPage:
    """The sections of the bedside check page, bound together.

    Nothing is saved unless every filled section is valid; the page re-renders with every
    value the nurse typed.

    ``carried_forward`` is the latest current vital signs at or before the entered time: its
    oxygen and vasopressors pre-fill the page, because they are running at that time. On a
    post, ``shown_forward`` is the record whose values the page showed, when that was another
    (the nurse changed the time and the page could not follow).
    """

    SECTIONS = ("vitals", "symptoms", "neuro", "labs", "treatment")

    def __init__(self, data=None, *, course, capd: bool, carried_forward=None, shown_forward=_SAME):
        self.course = course
        self.data = data
        self.capd = capd
        self.carried_forward = carried_forward
        self.shown_forward = carried_forward if shown_forward is _SAME else shown_forward
        self.time = ObservationTimeForm(data, course=course)
        self.setting = CheckSettingForm(data, course=course)
        self.vitals = VitalSignsForm(data, prefix="vitals", carried_forward=carried_forward)
        self.symptoms = SymptomForm(data, prefix="symptoms")
        self.neuro = NeuroForm(data, prefix="neuro", capd=capd)
        self.labs = LabForm(data, prefix="labs")
        self.treatment = TreatmentForm(data, prefix="treatment")
        self.dose_decision = DoseDecisionForm(data)
        self.errors: list[str] = []

    @property
    def carried_text(self) -> str:
        return carried_from_text(self.carried_forward, self.course)

    @property
    def carried_key(self) -> str:
        """Names the carried record in the page, so a post says what it was shown."""
        if self.carried_forward is None:
            return "none"
        return str(self.carried_forward.check_entry.public_id)

    def _follow_the_entered_time(self) -> bool:
        """Support values shown from another moment, and left as shown, are replaced with the
        state at the entered time; the nurse checks them and saves again. True if any were.

        Without this a late entry typed before the page caught up with its time (or without
        JavaScript) would store the oxygen of a later record: BiPAP at 06:00, CRS 4.
        """
        if self.shown_forward is self.carried_forward or self.data is None:
            return False
        shown = support_values(self.shown_forward)
        carried = support_values(self.carried_forward)
        stale = [
            name
            for name in VitalSignsForm.SUPPORT
            if shown[name] != carried[name]
            and not self.vitals.fields[name].has_changed(shown[name], self.vitals[name].data)
        ]
        if not stale:
            return False
        data = self.data.copy()
        for name in stale:
            key, value = self.vitals.add_prefix(name), carried[name]
            if isinstance(value, bool):
                if value:
                    data[key] = "on"
                else:
                    data.pop(key, None)
            else:
                data[key] = "" if value is None else str(value)
        self.data = data
        self.vitals = VitalSignsForm(data, prefix="vitals", carried_forward=self.carried_forward)
        self.errors.append(
            gettext(
                "The oxygen and vasopressors on the page were carried from %(shown)s, not from "
                "the time of this entry. They now show the state at that time (from "
                "%(carried)s): check them and save again."
            )
            % {
                "shown": carried_from_text(self.shown_forward, self.course),
                "carried": self.carried_text,
            }
        )
        return True

    @property
    def sections(self):
        return [(name, getattr(self, name)) for name in self.SECTIONS]

    def setting_hides_json(self) -> str:
        """``setting_hides`` for the form's data-setting-hides attribute (the CSP allows no
        inline <script>, not even a JSON one: tests/web/test_security.py)."""
        return json.dumps(self.setting_hides())

    def setting_hides(self) -> dict:
        """What the page hides for each setting that cannot record everything (REMOTE_CHECKS):
        {setting: {"sections": [section ids], "fields": [input names]}}, for
        static/js/check_setting.js. The service still refuses what a setting cannot record."""
        hides = {}
        for setting, (sections, vitals) in self._staff_remote_checks():
            fields = [
                self.vitals.add_prefix(name)
                for name in self.vitals.fields
                if VitalSignsForm.STORED_AS.get(name, name) not in vitals
            ]
            hidden = [name for name in self.SECTIONS if name not in sections]
            hides[str(setting)] = {
                "sections": hidden,
                "fields": fields if "vitals" in sections else [],
            }
        return hides

    def setting_notes(self) -> list[dict]:
        """For each setting that hides fields: why, and what to do with values typed in them."""
        others = " / ".join(str(s.label) for s in STAFF_CHECK_SETTINGS if s not in REMOTE_CHECKS)
        return [
            {
                "setting": str(setting),
                "why": gettext(
                    "A %(setting)s check records only %(allowed)s. Nobody examines the patient, "
                    "so the other fields are hidden."
                )
                % {
                    "setting": str(CheckSetting(setting).label).lower(),
                    "allowed": services.remote_allowed_text(setting),
                },
                "kept": gettext("Kept on this page, but not saved with this check:"),
                "others": gettext("Choose %(others)s to see and save them.") % {"others": others},
            }
            for setting, _limits in self._staff_remote_checks()
        ]

    @staticmethod
    def _staff_remote_checks():
        """The settings on this page that cannot record everything (a phone call)."""
        return [(s, REMOTE_CHECKS[s]) for s in STAFF_CHECK_SETTINGS if s in REMOTE_CHECKS]

    def filled(self):
        return [(name, form) for name, form in self.sections if form.has_changed()]

    def is_valid(self) -> bool:
        followed = self._follow_the_entered_time()
        forms_ = (self.time, self.setting, *dict(self.sections).values())
        valid = all([form.is_valid() for form in forms_])
        if followed:
            return False
        if not self.filled():
            self.errors.append(gettext("Nothing to save: fill in at least one section."))
            return False
        if valid:
            try:
                services.check_setting_values(self.setting.value(), self.values())
            except ValidationError as error:
                self._section_errors(error)
                return False
        return valid

    def values(self) -> dict:
        values = {name: form.model_values() for name, form in self.filled()}
        if "vitals" in values and self.setting.value() in REMOTE_CHECKS:
            # Oxygen and vasopressors shown carried forward were not said on the call: stored
            # as not recorded (they carry forward in grading). Changed ones stay, and are refused.
            untouched = set(VitalSignsForm.SUPPORT) - set(self.vitals.changed_data)
            blank = support_values(None)  # oxygen "" (not recorded), no vasopressors
            values["vitals"].update({name: blank[name] for name in untouched})
        return values

    def _section_errors(self, error: ValidationError) -> None:
        """A setting's refusal on the section it names (the setting itself, or the page)."""
        for name, messages in error.message_dict.items():
            form = self.setting if name == "setting" else getattr(self, name, None)
            if form is None:
                self.errors.extend(messages)
            else:
                form.add_error("setting" if name == "setting" else None, messages)

    @property
    def has_errors(self) -> bool:
        return bool(
            self.errors
            or self.time.errors
            or self.setting.errors
            or any(f.errors for _name, f in self.sections)
        )

    def summary(self) -> list[str]:
        """One line per problem, naming its section, for the top of the page."""
        lines = list(self.errors)
        for error in self.time.errors.get("observed_at", []):
            lines.append(gettext("Observed at: %(error)s") % {"error": error})
        for error in self.setting.errors.get("setting", []):
            lines.append(f"{self.setting.fields['setting'].label} {error}")
        for _name, form in self.sections:
            for field, errors in form.errors.items():
                label = "" if field == "__all__" else f"{form.fields[field].label}: "
                lines.extend(f"{form.section_title} — {label}{error}" for error in errors)
        return lines

    def add_error(self, error: ValidationError) -> None:
        """Errors the service raised (after the forms passed) are shown at the top."""
        self.errors.extend(error.messages)


class CheckNotDoneForm(ObservationTimeForm):
    """A due check that could not be done: which, why, when it was attempted."""

    check_type = forms.ChoiceField(label=_("Check"), choices=CheckType.choices)
    reason = forms.ChoiceField(choices=CheckNotDone.Reason.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        max_length=500,
        required=False,
        label=_("Note"),
        help_text=_("Required for 'Other'; e.g. 'CT head, back about 14:30'."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["observed_at"].label = gettext("Attempted at")
        self.fields["observed_at"].help_text = gettext(
            "When the check was due and could not be done."
        )
        self.order_fields(["check_type", "reason", "note", "observed_at"])

    def clean(self):
        data = super().clean()
        if data.get("reason") == CheckNotDone.Reason.OTHER and not data.get("note", "").strip():
            self.add_error("note", gettext("Say why the check was not done."))
        return data
