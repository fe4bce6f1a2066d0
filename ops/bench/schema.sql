-- The PostgreSQL baseline of `veeduria bench --postgres` (README.md beside this file): the same
-- log as an events table and the same six projections as tables, the way a competent engineer
-- would build the ledger on PostgreSQL instead. Loaded once per run into a fresh database.

CREATE TABLE events (
  lsn         bigint PRIMARY KEY,            -- the log-wide append order
  stream      text        NOT NULL,          -- entity code or "directory"
  stream_seq  bigint      NOT NULL,
  type        text        NOT NULL,          -- "ProgressReported", …
  recorded_at timestamptz NOT NULL,
  hash        text        NOT NULL,          -- SHA-256 of the canonical bytes (hex)
  envelope    jsonb       NOT NULL,
  payload     jsonb,
  UNIQUE (stream, stream_seq)                -- the per-stream chain has no gaps or forks
);

-- progress: goals, their yearly programming, and the YTD value of every goal at every cut.
CREATE TABLE goals (
  entity text, plan text, goal text,
  cpi_indicator text, accumulation text, target double precision, homologated boolean,
  lsn bigint NOT NULL,
  PRIMARY KEY (entity, plan, goal)
);
CREATE TABLE programming (
  entity text, plan text, goal text, year int,
  physical double precision, resources jsonb,
  lsn bigint NOT NULL,
  PRIMARY KEY (entity, plan, goal, year)
);
CREATE TABLE progress (
  entity text, plan text, goal text, campaign text, milestone text,
  year int, physical_ytd double precision, obligaciones bigint,
  recorded_at timestamptz, lsn bigint NOT NULL,
  PRIMARY KEY (entity, plan, goal, campaign, milestone)
);

-- audit: one line per event and object, with actor, role, time and the value it replaced.
CREATE TABLE audit (
  entity text, object text, lsn bigint,
  recorded_at timestamptz, actor text, role text, type text, before jsonb, after jsonb,
  PRIMARY KEY (entity, object, lsn)
);

-- reviews: per entity, campaign and milestone.
CREATE TABLE reviews (
  entity text, campaign text, milestone text,
  submitted_at timestamptz, days_late int, validated_at timestamptz,
  adjustment_request text, adjustment_due text, answered_at timestamptz,
  lsn bigint NOT NULL,
  PRIMARY KEY (entity, campaign, milestone)
);

-- compliance: per campaign milestone, the lists a gobernación and DNP act on.
CREATE TABLE compliance (
  campaign text, milestone text, entity text,
  status text, notified_at timestamptz, notified_reason text, referred_at timestamptz, referred_to text,
  lsn bigint NOT NULL,
  PRIMARY KEY (campaign, milestone, entity)
);

-- users: the leader of each entity, its history, and the roles.
CREATE TABLE leaders (
  entity text PRIMARY KEY, leader text, since timestamptz, lsn bigint NOT NULL
);
CREATE TABLE leader_history (
  entity text, lsn bigint, leader text, previous_leader text, at timestamptz,
  PRIMARY KEY (entity, lsn)
);
CREATE TABLE roles (
  "user" text, role text, scope text, granted_at timestamptz, revoked_at timestamptz,
  lsn bigint NOT NULL,
  PRIMARY KEY ("user", role, scope)
);

-- mdm: inputs per entity and vigencia, with provenance.
CREATE TABLE mdm_inputs (
  entity text, vigencia int, methodology text, inputs jsonb, grp text, source text,
  lsn bigint NOT NULL,
  PRIMARY KEY (entity, vigencia)
);
