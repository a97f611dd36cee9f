"""Writing a demo hospital's rows fast: keys reserved up front, then COPY (PostgreSQL) or one
executemany (SQLite) a table.

``bulk_create`` spends most of its time building SQL value by value (a fifth of seeding a
large hospital), and on PostgreSQL it needs ``RETURNING`` to learn the keys the next table's
foreign keys point at. Here each table's keys are taken first (from its sequence, or after its
highest key on SQLite, inside the seeding's transaction), set on the instances as
``bulk_create`` sets them, and the rows go in with the values Django itself would have sent:
``Field.get_db_prep_save`` for every value, except the plain strings, whole numbers and
booleans that it passes through unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections, models

# Fields whose get_db_prep_save returns a value of these exact types unchanged, on SQLite and
# PostgreSQL alike (CharField.to_python of a str, IntegerField's int(), BooleanField's bool):
# the only shortcut taken, checked by exact type at every value.
_PASS_THROUGH = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.BooleanField: (bool,),
    models.IntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.BigIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.PositiveBigIntegerField: (int,),
    models.AutoField: (int,),
    models.BigAutoField: (int,),
    models.SmallAutoField: (int,),
}


# On PostgreSQL (psycopg 3) get_db_prep_save also passes these through: an aware datetime
# (DateTimeField: adapt_datetimefield_value returns it), a UUID (a native uuid column) and a
# finite Decimal (DecimalField.to_python rebuilds an equal one; adapt_decimalfield_value
# returns it). A naive datetime or a non-finite Decimal still goes through it (a warning, an
# error).
_PASS_THROUGH_POSTGRESQL = {
    models.DateTimeField: (datetime,),
    models.UUIDField: (uuid.UUID,),
    models.DecimalField: (Decimal,),
}


def insert(model: type[models.Model], objs: Sequence[models.Model], connection=None) -> None:
    """Insert unsaved ``objs`` of ``model`` with new primary keys (set on them, as
    ``bulk_create`` does), foreign keys taken from the related instances they hold."""
    # The connection itself, not django.db.connection's proxy: every value asks it.
    connection = connection or connections[DEFAULT_DB_ALIAS]
    if not objs:
        return
    meta = model._meta
    if meta.parents:  # multi-table inheritance writes two tables
        raise ValueError(f"{model.__name__}: only single-table models are written here")
    fields = list(meta.concrete_fields)
    for field in fields:
        # bulk_create asks each field's pre_save for the value; only these change it.
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            raise ValueError(f"{model.__name__}.{field.name} is set on save: use bulk_create")
        if isinstance(field, models.FileField):
            raise ValueError(f"{model.__name__}.{field.name} is a file: use bulk_create")
    pk = meta.pk
    if isinstance(pk, models.AutoField):
        for obj, key in zip(objs, _reserve_keys(model, len(objs), connection), strict=True):
            if obj.pk is not None:
                raise ValueError(f"{model.__name__} {obj.pk} is saved already")
            setattr(obj, pk.attname, key)
    values = [_value_of(field, connection) for field in fields]
    rows = [tuple(value(obj) for value in values) for obj in objs]
    table, names = meta.db_table, [field.column for field in fields]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = ", ".join(quote(name) for name in names)
            with cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            columns = ", ".join(quote(name) for name in names)
            marks = ", ".join(["%s"] * len(names))
            cursor.executemany(f"INSERT INTO {quote(table)} ({columns}) VALUES ({marks})", rows)
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def _reserve_keys(model, count: int, connection) -> range | list[int]:
    """``count`` new primary keys of ``model``'s table, in ascending order."""
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, count],
            )
            return [key for (key,) in cursor.fetchall()]
        # SQLite (AUTOINCREMENT): after the highest key ever given, which sqlite_sequence
        # keeps; the seeding's transaction holds the write lock, so no one else takes these.
        quote = connection.ops.quote_name
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"COALESCE((SELECT MAX({quote(column)}) FROM {quote(table)}), 0))",
            [table],
        )
        start = cursor.fetchone()[0] + 1
        return range(start, start + count)


def _value_of(field, connection) -> Callable[[models.Model], object]:
    """How one column's value is read from an instance, as bulk_create would send it."""
    attname = field.attname
    target = field.target_field if field.is_relation else field
    plain = _PASS_THROUGH.get(type(target), ())
    if connection.vendor == "postgresql":
        plain = plain or _PASS_THROUGH_POSTGRESQL.get(type(target), ())
    prep = field.get_db_prep_save

    def read(obj):
        value = obj.__dict__[attname]
        if field.is_relation and field.is_cached(obj):
            # As Model._prepare_related_fields_for_save: the key of the instance it holds.
            related = field.get_cached_value(obj)
            if related is not None:
                if related.pk is None:
                    raise ValueError(f"{field.name} of {obj!r} is not saved")
                if value != related.pk:
                    value = related.pk
                    setattr(obj, attname, value)
        if value is None:
            return value
        kind = type(value)
        if kind in plain and (
            (kind is datetime and value.tzinfo is not None)
            or (kind is Decimal and value.is_finite())
            or kind not in (datetime, Decimal)
        ):
            return value
        return prep(value, connection)

    return read
