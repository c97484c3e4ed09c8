/**
 * Versioned schema of the volume database. Each migration runs once, in order, inside its own
 * transaction, and is recorded in `schema_migrations`. Append new migrations; never edit one that
 * has shipped.
 *
 * The SQL sticks to what PostgreSQL also accepts where that is easy: TEXT / INTEGER / REAL columns,
 * ISO-8601 UTC timestamps as TEXT (they sort as text), JSON documents as TEXT. Capacities that may be
 * 'infinite' or 'unknown' are TEXT so every value round-trips exactly. The AUTOINCREMENT ids are
 * SQLite's; a PostgreSQL port uses identity columns there.
 */
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  /** SQL, possibly several statements. */
  up: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    up: `
CREATE TABLE volumes (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  name TEXT,
  description TEXT,
  size INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('creating', 'available', 'error')),
  volume_type TEXT NOT NULL,
  availability_zone TEXT,
  host TEXT,
  source TEXT NOT NULL,
  metadata TEXT NOT NULL,
  workflow_id TEXT,
  request_id TEXT,
  error_reason TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  scheduled_at TEXT,
  launched_at TEXT
);
CREATE UNIQUE INDEX volumes_project_request ON volumes (project_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX volumes_status ON volumes (status);
CREATE INDEX volumes_host ON volumes (host);

CREATE TABLE volume_types (
  name TEXT PRIMARY KEY,
  extra_specs TEXT NOT NULL
);
INSERT INTO volume_types (name, extra_specs) VALUES ('default', '{}');

CREATE TABLE pools (
  backend_id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  availability_zone TEXT NOT NULL,
  total_capacity_gb TEXT NOT NULL,
  free_capacity_gb TEXT,
  allocated_capacity_gb REAL NOT NULL,
  provisioned_capacity_gb REAL NOT NULL,
  reserved_percentage REAL NOT NULL,
  max_over_subscription_ratio REAL NOT NULL,
  thin_provisioning_support INTEGER NOT NULL,
  thick_provisioning_support INTEGER NOT NULL,
  capabilities TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX pools_host ON pools (host);
CREATE INDEX pools_updated_at ON pools (updated_at);

CREATE TABLE capacity_claims (
  volume_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  backend_id TEXT NOT NULL REFERENCES pools (backend_id),
  size_gb INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'released')),
  created_at TEXT NOT NULL,
  released_at TEXT,
  PRIMARY KEY (volume_id, attempt)
);
CREATE INDEX capacity_claims_backend ON capacity_claims (backend_id, status);

CREATE TABLE quota_limits (
  project_id TEXT NOT NULL,
  resource TEXT NOT NULL,
  hard_limit INTEGER NOT NULL,
  PRIMARY KEY (project_id, resource)
);

-- No foreign key to volumes: quota is reserved before the volume row exists.
CREATE TABLE quota_reservations (
  volume_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  resource TEXT NOT NULL,
  delta INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('reserved', 'committed', 'rolled_back')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (volume_id, resource)
);
CREATE INDEX quota_reservations_project ON quota_reservations (project_id, status);

CREATE TABLE snapshots (
  id TEXT PRIMARY KEY,
  volume_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  host TEXT NOT NULL,
  status TEXT NOT NULL
);

CREATE TABLE images (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  size_gb INTEGER NOT NULL,
  disk_format TEXT NOT NULL,
  status TEXT NOT NULL,
  path TEXT NOT NULL
);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_type TEXT NOT NULL,
  volume_id TEXT,
  workflow_id TEXT,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX events_volume ON events (volume_id);
CREATE INDEX events_type ON events (event_type);

CREATE TABLE fault_rules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host TEXT NOT NULL,
  op TEXT NOT NULL,
  action TEXT NOT NULL,
  error_type TEXT,
  remaining INTEGER,
  probability REAL,
  delay_ms INTEGER,
  volume_name TEXT
);
CREATE INDEX fault_rules_host_op ON fault_rules (host, op);
`,
  },
];

/**
 * Applies the migrations not yet recorded. Each one re-checks under a write lock (BEGIN IMMEDIATE),
 * so processes opening the same file at once apply every migration exactly once.
 * Returns the versions applied by this call.
 */
export function applyMigrations(db: Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`);
  const isApplied = db.prepare<[number], { version: number }>('SELECT version FROM schema_migrations WHERE version = ?');
  const record = db.prepare<[number, string, string]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (const m of sorted) {
    const ran = db
      .transaction(() => {
        if (isApplied.get(m.version)) return false;
        db.exec(m.up);
        record.run(m.version, m.name, new Date().toISOString());
        return true;
      })
      .immediate();
    if (ran) applied.push(m.version);
  }
  return applied;
}
