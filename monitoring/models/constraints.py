"""Building blocks for the plausibility constraints every clinical table declares."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import models
from django.db.models import Q

# Absolute bounds for clinical dates, which the database can check without a clock (a CHECK
# constraint cannot call now()). The relative rules (an infusion within the last year, an age
# of 0-120 years) are the services' (services.check_infusion_time, check_date_of_birth).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)


def between(field: str, low, high) -> Q:
    """NULL or within [low, high]: most measurements are optional, none may be implausible."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": low, f"{field}__lte": high})


def all_or_none(fields: list[str]) -> Q:
    missing = Q(**{f"{f}__isnull": True for f in fields})
    return missing | Q(**{f"{f}__isnull": False for f in fields})


def range_constraint(model: str, field: str, low, high) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=between(field, low, high), name=f"{model}_{field}_plausible"
    )
