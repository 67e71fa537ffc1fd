#!/bin/sh
# Create Temporal's two databases on PostgreSQL and bring their schemas up to date (idempotent).
set -eu
tool() { temporal-sql-tool --plugin postgres12 --ep postgresql -u temporal -p 5432 "$@"; }
for db in temporal temporal_visibility; do
  kind=$([ "$db" = temporal ] && echo temporal || echo visibility)
  tool --db "$db" create || echo "database $db exists"
  tool --db "$db" setup-schema -v 0.0 || echo "schema of $db exists"
  tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$kind/versioned"
done
echo "Temporal schema ready"
