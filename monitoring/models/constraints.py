"""Building blocks for the plausibility constraints every clinical table declares."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


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
