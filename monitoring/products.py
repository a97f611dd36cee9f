"""The product list's write path and read helpers (issue 14 §2).

Admins maintain ``TherapyProduct`` rows in the Django admin; every add and change goes through
``save_product``: validated (``check_product``), saved and audited old → new, in one
transaction. A product is never deleted (courses point at it); ``is_active`` retires it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from monitoring import product_labels
from monitoring.models import AuditEvent, TherapyProduct
from monitoring.models.audit import changes_text
from monitoring.models.products import MONITORING_WINDOW_HOURS_RANGE
from monitoring.services import _in_english, audit

# What a row's label facts are; a row that states any of them must say where they come from.
LABEL_FACTS = ["hospitalisation_advice", "step_up_schedule", "monitoring_window_hours"]
EDITABLE_FIELDS = [
    "code",
    "name",
    "brand",
    "product_class",
    "target",
    *LABEL_FACTS,
    "label_document",
    "label_version",
    "label_url",
    "label_note",
    "is_active",
]


def check_monitoring_window(hours) -> None:
    low, high = MONITORING_WINDOW_HOURS_RANGE
    if hours is not None and not low <= hours <= high:
        raise ValidationError(
            {
                "monitoring_window_hours": gettext(
                    "Enter %(low)s–%(high)s hours, or leave it empty when the label sets none."
                )
                % {"low": low, "high": high}
            }
        )


def check_product(product: TherapyProduct, *, old_code: str | None = None) -> None:
    """What an admin may not save, with a message per field (forms, admin and service alike)."""
    errors: dict[str, list[str]] = {}
    try:
        check_monitoring_window(product.monitoring_window_hours)
    except ValidationError as error:
        errors.update(error.message_dict)
    if old_code is not None and product.code != old_code:
        # Courses, protocol versions and exports hold the code: it is the product's identity.
        errors.setdefault("code", []).append(
            gettext("The code cannot change (courses and protocols refer to it): add a product.")
        )
    if product.code == "other" and product.product_class != TherapyProduct.ProductClass.OTHER:
        errors.setdefault("product_class", []).append(
            gettext("“other” is the investigational product: its class stays “other”.")
        )
    states_facts = any(getattr(product, name) not in (None, "") for name in LABEL_FACTS)
    if states_facts and not product.label_document.strip():
        errors.setdefault("label_document", []).append(
            gettext("Name the label these monitoring rules come from (document and version).")
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_product(*, product: TherapyProduct, by, changed: list[str] | None = None):
    """Add or change a product: validate, save, audit. ``changed``: the fields edited (for the
    audit line); a new product is audited with its code, class and label."""
    adding = product.pk is None
    old = None if adding else TherapyProduct.objects.select_for_update().get(pk=product.pk)
    check_product(product, old_code=None if adding else old.code)
    product.full_clean()
    product.updated_at = timezone.now()
    product.save()
    with _in_english():
        if adding:
            summary = (
                f"Therapy product added: {product.code} — {product.label} "
                f"({product.get_product_class_display()})"
            )
            changes = {}
        else:
            names = changed or [
                n for n in EDITABLE_FIELDS if getattr(old, n) != getattr(product, n)
            ]
            changes = {n: [str(getattr(old, n)), str(getattr(product, n))] for n in names}
            summary = f"Therapy product {product.code} changed: " + changes_text(
                "therapyproduct", changes
            )
        audit(
            by,
            AuditEvent.Action.ADMIN_EDITED,
            summary=summary,
            details={"model": "therapyproduct", "code": product.code, "changed": changes},
        )
    return product


def product_choices(*, include: str | None = None) -> list:
    """Active products grouped by class for a select: [(class label, [(code, label), ...])].
    ``include``: a code shown even if retired (the value a form already holds)."""
    products = TherapyProduct.objects.filter(is_active=True)
    if include:
        products = products | TherapyProduct.objects.filter(code=include)
    groups: dict[str, list] = {}
    for product in products.order_by("product_class", "name"):
        groups.setdefault(product.product_class, []).append((product.code, product.label))
    return [
        (str(label), groups[value])
        for value, label in TherapyProduct.ProductClass.choices
        if value in groups
    ]


def ensure_shipped_products() -> int:
    """Create the shipped products that are missing (never changes an existing row), from
    ``product_labels``: for tests whose database was flushed and for a damaged install.
    Returns how many rows were created."""
    created = 0
    for row in product_labels.PRODUCTS:
        _, new = TherapyProduct.objects.get_or_create(code=row["code"], defaults=row)
        created += new
    return created
