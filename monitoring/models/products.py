"""The therapy products a course can be for, with what each product's label says about
monitoring. Admins maintain the list (Django admin, through ``monitoring.products``); the
shipped rows and their cited label defaults come from ``monitoring.product_labels``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

PRODUCT_CLASSES = ["car_t", "t_cell_engager", "tcr_t", "other"]

# Hours of monitoring after a dose an admin may enter: at least one, at most 30 days
# (blinatumomab's 9-day stay is the longest label default, 216 h).
MONITORING_WINDOW_HOURS_RANGE = (1, 30 * 24)


class TherapyProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class TherapyProduct(models.Model):
    """One immune effector therapy: a CAR-T product, a T-cell engager, a TCR-T product."""

    class ProductClass(models.TextChoices):
        CAR_T = "car_t", _("CAR T-cell therapy")
        T_CELL_ENGAGER = "t_cell_engager", _("T-cell engager")
        TCR_T = "tcr_t", _("TCR T-cell therapy")
        OTHER = "other", _("Other immune effector therapy")

    class DayZero(models.TextChoices):
        """What day 0 (``TreatmentCourse.infused_at``) is for a course of this product."""

        INFUSION = "infusion", _("infusion")
        FIRST_DOSE = "first_dose", _("first dose")

    code = models.SlugField(
        max_length=32,
        unique=True,
        help_text=_("Short code, e.g. “axi-cel” or the INN “teclistamab”; never changes."),
    )
    name = models.CharField(_("name (INN)"), max_length=100)
    brand = models.CharField(_("brand"), max_length=100, blank=True)
    product_class = models.CharField(
        _("product class"), max_length=16, choices=ProductClass.choices
    )
    target = models.CharField(
        _("target"), max_length=32, blank=True, help_text=_("e.g. CD19, BCMA, GPRC5D, CD20")
    )
    # The label's monitoring rules, as the label words them (the dosing schedule a course
    # follows is protocol data: the protocol's dose steps, not these texts).
    hospitalisation_advice = models.TextField(
        _("hospitalisation / stay near the centre"), blank=True
    )
    step_up_schedule = models.TextField(_("step-up schedule (label's words)"), blank=True)
    monitoring_window_hours = models.PositiveSmallIntegerField(
        _("monitoring window after each step-up / first treatment dose (hours)"),
        null=True,
        blank=True,
    )
    label_document = models.CharField(_("label document"), max_length=300, blank=True)
    label_version = models.CharField(_("label version or date"), max_length=100, blank=True)
    label_url = models.URLField(_("label URL"), max_length=500, blank=True)
    label_note = models.TextField(
        _("note"),
        blank=True,
        help_text=_("e.g. that the centre must check these values against the current label"),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Only active products can start a new course.")
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords()

    objects = TherapyProductQuerySet.as_manager()

    class Meta:
        ordering = ["product_class", "name"]
        verbose_name = _("therapy product")
        constraints = [
            models.CheckConstraint(
                condition=Q(monitoring_window_hours__isnull=True)
                | Q(
                    monitoring_window_hours__gte=MONITORING_WINDOW_HOURS_RANGE[0],
                    monitoring_window_hours__lte=MONITORING_WINDOW_HOURS_RANGE[1],
                ),
                name="product_monitoring_window_plausible",
            ),
            models.CheckConstraint(
                condition=Q(product_class__in=PRODUCT_CLASSES),
                name="product_class_known",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """ "Axicabtagene ciloleucel (Yescarta)", as pages and exports name the product."""
        if self.code == "other":
            return gettext("Other / investigational")
        return f"{self.name} ({self.brand})" if self.brand else self.name

    @property
    def day_zero(self) -> str:
        """Day 0 is the first dose for a T-cell engager, the infusion for a cell therapy (and
        for anything else): the one place that decides it (issue 14 §2)."""
        if self.product_class == self.ProductClass.T_CELL_ENGAGER:
            return self.DayZero.FIRST_DOSE
        return self.DayZero.INFUSION

    @property
    def day_zero_label(self) -> str:
        """ "first dose" or "infusion", in the reader's language."""
        return str(self.DayZero(self.day_zero).label)
