"""Units, users and patients."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from monitoring import grading
from monitoring.models.constraints import EARLIEST_DATE, LATEST_DATE, between


class Unit(models.Model):
    """A ward or clinic; nurses and care teams see only the patients of their units."""

    name = models.CharField(max_length=100, unique=True)
    code = models.SlugField(max_length=20, unique=True)
    # Shown to patients and caregivers at home (issue 15 §1): whom to call, day or night.
    contact_phone = models.CharField(
        _("24-hour contact number"),
        max_length=32,
        blank=True,
        help_text=_("The number patients and caregivers at home call, day or night."),
        validators=[
            RegexValidator(
                r"^\+?[0-9][0-9 ()./-]{3,30}$",
                _("Digits, spaces and + ( ) - . / only, e.g. +44 20 7946 0000."),
            )
        ],
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(DjangoUserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        """``createsuperuser`` makes an IT administrator: the admin role, never a clinical one."""
        extra_fields.setdefault("role", User.Role.ADMIN)
        if extra_fields["role"] != User.Role.ADMIN:
            raise ValueError("A superuser must have the admin role.")
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A member of staff. What they may do is decided by their role alone, in the ``can_*``
    properties below, which the views (``access.requires``), the templates (links and buttons)
    and ``access.py`` all read. Django's superuser flag opens the Django admin only: it grants
    no clinical action and no unit."""

    class Role(models.TextChoices):
        NURSE = "nurse", _("Nurse")
        CHARGE_NURSE = "charge_nurse", _("Charge nurse")
        CARE_TEAM = "care_team", _("Care team")
        ADMIN = "admin", _("Admin")
        # A shared wall screen: its own login, the board of its units only, read-only.
        DISPLAY = "display", _("Wall display")
        # At home (issue 15): a patient or a caregiver signed in by a one-time code, who reaches
        # only the home pages of one course (models/home.py HomeAccess). No staff permission.
        PATIENT = "patient", _("Patient at home")
        CAREGIVER = "caregiver", _("Caregiver at home")

    role = models.CharField(
        max_length=16,
        choices=Role.choices,
        default=Role.NURSE,
        help_text="Decides what the user may do in cartmonitor. Superuser status opens the "
        "Django admin only, never clinical pages or other units.",
    )
    units = models.ManyToManyField(Unit, blank=True, related_name="members")
    # Where notifications reach this user besides the in-app centre (their profile page).
    notify_by_email = models.BooleanField(_("notify me by e-mail"), default=False)
    notify_by_push = models.BooleanField(_("notify me by Web Push"), default=False)
    notify_by_webhook = models.BooleanField(
        _("page me through the hospital gateway"), default=False
    )
    pager_id = models.CharField(
        _("pager or secure-messaging address"),
        max_length=64,
        blank=True,
        help_text=_("What the hospital's paging gateway calls you (sent in the webhook)."),
    )
    # The language of the pages and of the notifications sent to this user; blank: the
    # browser's (Accept-Language), else English. Choices from settings.LANGUAGES.
    language = models.CharField(
        _("language"), max_length=8, blank=True, default="", choices=settings.LANGUAGES
    )

    objects = UserManager()

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    # Who may do what (README "Who uses it"); tests/web/test_permissions.py pins the table.

    @property
    def sees_all_units(self) -> bool:
        """Admins see every unit; everyone else only the units they are members of."""
        return self.role == self.Role.ADMIN

    @property
    def can_view_patients(self) -> bool:
        """Worklist, flag board (read-only), course pages, check results, handover, history."""
        return self.role in (
            self.Role.NURSE,
            self.Role.CHARGE_NURSE,
            self.Role.CARE_TEAM,
            self.Role.ADMIN,
        )

    @property
    def can_record_checks(self) -> bool:
        """Bedside checks, treatments given, checks not done and handover notes."""
        return self.role in (self.Role.NURSE, self.Role.CHARGE_NURSE, self.Role.CARE_TEAM)

    @property
    def can_correct_records(self) -> bool:
        """Amend a clinical record or mark it entered in error."""
        return self.role in (self.Role.NURSE, self.Role.CHARGE_NURSE, self.Role.CARE_TEAM)

    @property
    def can_record_infection_care(self) -> bool:
        """Prophylaxis, immunoglobulin replacement and infections (monitoring/infection.py):
        prescribing decisions, the care team's. Nurses record IgG and counts with the labs."""
        return self.role == self.Role.CARE_TEAM

    @property
    def can_act_on_flags(self) -> bool:
        """Acknowledge and resolve flags."""
        return self.role == self.Role.CARE_TEAM

    @property
    def can_confirm_grades(self) -> bool:
        """Confirm or override a computed grade."""
        return self.role == self.Role.CARE_TEAM

    @property
    def can_change_course_protocol(self) -> bool:
        """See the protocol a course follows and move the course to another version."""
        return self.role in (self.Role.CARE_TEAM, self.Role.ADMIN)

    @property
    def can_manage_courses(self) -> bool:
        """Admit patients; start, transfer and end courses; correct day 0, a date of birth or a
        weight (views/courses.py): the care team and admins, never a nurse alone."""
        return self.role in (self.Role.CARE_TEAM, self.Role.ADMIN)

    @property
    def can_plan_doses(self) -> bool:
        """Plan, re-plan, hold and restart a course's step-up doses: the care team."""
        return self.role == self.Role.CARE_TEAM

    @property
    def can_record_doses(self) -> bool:
        """Record a dose given (when every gate before it is met)."""
        return self.role in (self.Role.NURSE, self.Role.CHARGE_NURSE, self.Role.CARE_TEAM)

    @property
    def can_override_dose_gates(self) -> bool:
        """Give a dose while a gate is not met, with a reason: a physician of the care team."""
        return self.role == self.Role.CARE_TEAM

    @property
    def can_export(self) -> bool:
        """Registry summary and CSV, FHIR bundle: patient data that leaves the building."""
        return self.role in (self.Role.CARE_TEAM, self.Role.ADMIN)

    @property
    def can_manage_protocols(self) -> bool:
        """The protocol pages: versions, schedules, thresholds, escalation text."""
        return self.role == self.Role.ADMIN

    @property
    def can_view_audit_log(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def can_edit_rota(self) -> bool:
        """The on-call rota of their units (admins: every unit)."""
        return self.role in (self.Role.CHARGE_NURSE, self.Role.ADMIN)

    @property
    def can_view_quality(self) -> bool:
        """The programme's quality measures (times to acknowledge, escalations, overdue checks)."""
        return self.role in (self.Role.CARE_TEAM, self.Role.ADMIN)

    @property
    def can_view_program(self) -> bool:
        """The program page: patients by phase of their treatment journey, on their units."""
        return self.role in (self.Role.CHARGE_NURSE, self.Role.CARE_TEAM, self.Role.ADMIN)

    @property
    def can_manage_journey(self) -> bool:
        """Register a patient for therapy, record phases, baseline and follow-up visits, and
        start monitoring at the infusion (monitoring/journey.py)."""
        return self.role in (
            self.Role.NURSE,
            self.Role.CHARGE_NURSE,
            self.Role.CARE_TEAM,
            self.Role.ADMIN,
        )

    @property
    def can_receive_notifications(self) -> bool:
        """A notification centre and a profile with channels: every member of staff, never a
        screen, nor a patient or caregiver at home."""
        return self.role not in (self.Role.DISPLAY, *HOME_ROLES)

    @property
    def can_manage_home_access(self) -> bool:
        """Invite a patient or caregiver to home monitoring, give them a sign-in code, revoke
        their access (views/home_access.py): the care team, and the charge nurse who runs the
        unit's discharges. Never a bedside nurse alone, nor IT (admins see no patient's home)."""
        return self.role in (self.Role.CHARGE_NURSE, self.Role.CARE_TEAM)

    @property
    def can_view_remote_patients(self) -> bool:
        """The remote patients page (views/remote.py): who is at home on their units, their last
        check-in, the check-ins missed. Those who look after them: the care team and the charge
        nurse; not IT (admins see no patient's home), not a bedside nurse's round."""
        return self.role in (self.Role.CHARGE_NURSE, self.Role.CARE_TEAM)

    @property
    def can_use_home(self) -> bool:
        """The home pages of one course (views/home.py), and nothing else: a patient or a
        caregiver at home. HomeSessionMiddleware keeps them there."""
        return self.role in HOME_ROLES

    @property
    def can_view_wall_display(self) -> bool:
        """A shared screen's login: the read-only wall board of its units, nothing else."""
        return self.role == self.Role.DISPLAY


# The roles of people at home (issue 15): cartmonitor/middleware.py HomeSessionMiddleware
# answers them only on the home pages.
HOME_ROLES = (User.Role.PATIENT, User.Role.CAREGIVER)


# Tocilizumab is dosed by weight (8 mg/kg; 12 mg/kg under 30 kg — reference §7.1): a weight
# outside this range is a typing slip (grams, pounds, a missing decimal point).
WEIGHT_KG_RANGE = (Decimal("1"), Decimal("350"))


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        OTHER = "other", _("Other")
        UNKNOWN = "unknown", _("Unknown")

    # Patient URLs carry this, never the sequential primary key.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    mrn = models.CharField("MRN", max_length=32, unique=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=8, choices=Sex.choices)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_kg__gte=WEIGHT_KG_RANGE[0], weight_kg__lte=WEIGHT_KG_RANGE[1]),
                name="patient_weight_kg_plausible",
            ),
            # A date of birth in 1066 or 9999 makes every age (ICE or CAPD, the child's blood
            # pressure limits) nonsense; services.check_date_of_birth also keeps it 0-120 years.
            models.CheckConstraint(
                condition=between("date_of_birth", EARLIEST_DATE, LATEST_DATE),
                name="patient_date_of_birth_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name} ({self.mrn})"

    def get_absolute_url(self) -> str:
        return reverse("monitoring:patient-course", args=[self.public_id])

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: date) -> float:
        """Age in years (fractional) on ``day``: ICE vs CAPD and paediatric hypotension need it.

        0 before the date of birth: only a wrong date of birth asks for that (the services
        refuse one after the infusion), and the patient's pages must still open to correct it.
        """
        if day <= self.date_of_birth:
            return 0.0
        whole = day.year - self.date_of_birth.year
        if (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day):
            whole -= 1
        anniversary = _add_years(self.date_of_birth, whole)
        next_anniversary = _add_years(self.date_of_birth, whole + 1)
        fraction = (day - anniversary).days / (next_anniversary - anniversary).days
        return whole + fraction

    def uses_capd_on(self, day: date) -> bool:
        """ASTCT/ASCO: CAPD under 12 years, ICE from the 12th birthday (reference §2.3)."""
        return self.age_on(day) < grading.ICE_FROM_AGE_YEARS


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # born 29 February: the birthday is 1 March in non-leap years
        return date(day.year + years, 3, 1)
