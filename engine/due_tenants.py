"""Which tenants have due work: one `TenantDue` row per tenant, read in a rotating order.

Finding the tenants with due work from the instances themselves reads the whole due range (a
backlog's worth of index entries); this table makes it a bounded read at any number of tenants and
any backlog: the dispatcher takes the first rows of the index on `at` whose time has come, and
moves each tenant it served to the back of the queue (`at = now`). Round-robin across every tenant
with due work, whatever their number, at the cost of reading `limit` rows.

Invariants:
- A tenant with an unleased instance due at `t` has a row with `at <= max(t, the last time it
  was served)`: so every tenant with due work is in the due range, once, and one that was just
  served sorts behind those still waiting. A row in the future says only "nothing is due before
  `at`" (a lower bound of its next timer); a tenant with no timer at all has no row.
- The rows are kept by the database itself: triggers on the instance table (INSERT, and UPDATE
  that makes an unleased instance due earlier or releases a lease) upsert `at = least(at, due_at)`
  in the transaction that made the work due. No code path can forget it (services, the runner's
  release, a claim refused at the cap, bulk inserts, an operator's UPDATE). The upsert locks the
  row even when it writes nothing (PostgreSQL's ON CONFLICT DO UPDATE ... WHERE), which
  `settle` relies on.
- Only the dispatcher moves a row later, and only with *write, then re-check*: it writes the
  later time (or deletes the row), then looks at the tenant's instances again and pulls the row
  back if something became due meanwhile. A concurrent commit that made work due either committed
  before the re-check (which sees it) or its trigger ran after the write (and pulled `at` back),
  because the trigger's lock makes the two writes queue on the row. No wake-up is lost.
- Expired leases are not tracked here: `dispatch.recovered_ids` reads them from their own index.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection


# The triggers, one per vendor. Each is idempotent (re-created after a migration that rebuilt the
# instance table: SQLite's ALTER TABLE rebuild drops a table's triggers; see engine.apps).
_INSTANCE = "engine_instance"
_DUE = "engine_tenantdue"
_BECAME_DUE = ("NEW.due_at IS NOT NULL AND NEW.lease_owner = '' AND "
               "(OLD.due_at IS NULL OR OLD.lease_owner <> '' OR NEW.due_at < OLD.due_at)")

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS engine_instance_due_insert AFTER INSERT ON {_INSTANCE}
    WHEN NEW.due_at IS NOT NULL AND NEW.lease_owner = ''
    BEGIN
        INSERT INTO {_DUE} (tenant_id, at) VALUES (NEW.tenant_id, NEW.due_at)
        ON CONFLICT (tenant_id) DO UPDATE SET at = excluded.at WHERE excluded.at < {_DUE}.at;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS engine_instance_due_update AFTER UPDATE OF due_at, lease_owner ON {_INSTANCE}
    WHEN {_BECAME_DUE}
    BEGIN
        INSERT INTO {_DUE} (tenant_id, at) VALUES (NEW.tenant_id, NEW.due_at)
        ON CONFLICT (tenant_id) DO UPDATE SET at = excluded.at WHERE excluded.at < {_DUE}.at;
    END""",
]

POSTGRES_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION engine_tenant_due_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- DO UPDATE ... WHERE locks the row even when it writes nothing: see engine.due_tenants.
        INSERT INTO {_DUE} (tenant_id, at) VALUES (NEW.tenant_id, NEW.due_at)
        ON CONFLICT (tenant_id) DO UPDATE SET at = EXCLUDED.at WHERE EXCLUDED.at < {_DUE}.at;
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE TRIGGER engine_instance_due_insert AFTER INSERT ON {_INSTANCE} FOR EACH ROW
    WHEN (NEW.due_at IS NOT NULL AND NEW.lease_owner = '') EXECUTE FUNCTION engine_tenant_due_touch()""",
    f"""CREATE OR REPLACE TRIGGER engine_instance_due_update AFTER UPDATE OF due_at, lease_owner ON {_INSTANCE}
    FOR EACH ROW WHEN ({_BECAME_DUE}) EXECUTE FUNCTION engine_tenant_due_touch()""",
]

DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS engine_instance_due_insert", "DROP TRIGGER IF EXISTS engine_instance_due_update"],
    "postgresql": [f"DROP TRIGGER IF EXISTS engine_instance_due_insert ON {_INSTANCE}",
                   f"DROP TRIGGER IF EXISTS engine_instance_due_update ON {_INSTANCE}",
                   "DROP FUNCTION IF EXISTS engine_tenant_due_touch()"],
}

BACKFILL = (f"INSERT INTO {_DUE} (tenant_id, at) SELECT tenant_id, MIN(due_at) FROM {_INSTANCE} "
            f"WHERE due_at IS NOT NULL AND lease_owner = '' GROUP BY tenant_id")


def install_triggers(conn=None) -> None:
    conn = conn or connection
    statements = {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRES_TRIGGERS}.get(conn.vendor)
    if statements is None:
        raise NotImplementedError(f"engine.due_tenants: no triggers for {conn.vendor}")
    with conn.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _db(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def take_round(*, now: datetime, limit: int) -> list[int]:
    """The next `limit` tenants with due work, longest waiting first, moved to the back of the
    queue (`at = now`) in the same statement: a range read of `limit` entries of tenantdue_at.
    On PostgreSQL, rows another dispatcher is taking right now are skipped (no waiting, and
    concurrent dispatchers get different tenants)."""
    if connection.vendor == "postgresql":
        # = ANY(ARRAY(...)): the round is read first (an InitPlan), then its rows by primary key;
        # an IN (subquery) may be planned as a hash join over the whole table.
        sql = (f"UPDATE {_DUE} SET at = %s WHERE tenant_id = ANY(ARRAY(SELECT tenant_id FROM {_DUE} "
               f"WHERE at <= %s ORDER BY at LIMIT %s FOR UPDATE SKIP LOCKED)) RETURNING tenant_id")
    else:
        sql = (f"UPDATE {_DUE} SET at = %s WHERE tenant_id IN (SELECT tenant_id FROM {_DUE} INDEXED BY tenantdue_at "
               f"WHERE at <= %s ORDER BY at LIMIT %s) RETURNING tenant_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [_db(now), _db(now), limit])
        # RETURNING's order is unspecified: the round is served in tenant order (any fixed order is fair).
        return sorted(r[0] for r in cursor.fetchall())


def _param(value: Any) -> Any:
    """A due_at read by a raw cursor, as a parameter again (SQLite may hand back text)."""
    return _db(value) if isinstance(value, datetime) else value


def _next_timer(cursor, tenant_id: int, now: datetime) -> tuple[Any, bool]:
    """The tenant's earliest unleased timer and whether it is due: a range of instance_tenant_due
    that stops at the first unleased entry (leased ones are at most the tenant's concurrency cap)."""
    cursor.execute(f"SELECT due_at, CASE WHEN due_at <= %s THEN 1 ELSE 0 END FROM {_INSTANCE} "
                   f"WHERE tenant_id = %s AND due_at IS NOT NULL AND lease_owner = '' ORDER BY due_at LIMIT 1",
                   [_db(now), tenant_id])
    row = cursor.fetchone()
    return (row[0], bool(row[1])) if row else (None, False)


def settle(tenant_id: int, *, now: datetime) -> None:
    """The tenant was in the round but had nothing due (its work was claimed, finished or
    retention deleted it): move its row to its next timer, or drop it; then re-check (see the
    module docstring) and pull it back if a commit made work due meanwhile."""
    with connection.cursor() as cursor:
        timer, due = _next_timer(cursor, tenant_id, now)
        if due:
            return  # due after all (committed since the lane was read): it keeps its place
        if timer is None:
            cursor.execute(f"DELETE FROM {_DUE} WHERE tenant_id = %s", [tenant_id])
        else:
            cursor.execute(f"UPDATE {_DUE} SET at = %s WHERE tenant_id = %s", [_param(timer), tenant_id])
        again, _ = _next_timer(cursor, tenant_id, now)
        if again is not None and again != timer:  # earlier than what was written (least() keeps it so)
            cursor.execute(
                f"INSERT INTO {_DUE} (tenant_id, at) VALUES (%s, %s) ON CONFLICT (tenant_id) "
                f"DO UPDATE SET at = excluded.at WHERE excluded.at < {_DUE}.at", [tenant_id, _param(again)])
