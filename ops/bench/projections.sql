-- The six projections as SQL: project(lo, hi) applies the events with lo <= lsn <= hi, set-based
-- (one INSERT … SELECT … ON CONFLICT DO UPDATE per projection table, the latest event per key
-- winning), in the caller's transaction. append_batch() is the write path: insert a batch of
-- events and project it, in one transaction. rebuild() truncates the projections and projects
-- the whole events table again.

CREATE FUNCTION project(lo bigint, hi bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- progress
  INSERT INTO goals AS g (entity, plan, goal, cpi_indicator, accumulation, target, homologated, lsn)
  SELECT DISTINCT ON (p->>'entity', p->>'plan', p->>'goal')
         p->>'entity', p->>'plan', p->>'goal', p->>'cpi_indicator', p->>'accumulation',
         (p->>'target')::double precision, coalesce((p->>'homologated')::boolean, false), lsn
    FROM (SELECT lsn, payload AS p FROM events WHERE lsn BETWEEN lo AND hi AND type = 'GoalDefined') e
   ORDER BY p->>'entity', p->>'plan', p->>'goal', lsn DESC
  ON CONFLICT (entity, plan, goal) DO UPDATE
     SET cpi_indicator = excluded.cpi_indicator, accumulation = excluded.accumulation,
         target = excluded.target, homologated = excluded.homologated, lsn = excluded.lsn;

  UPDATE goals g SET cpi_indicator = h.p->>'cpi_indicator', homologated = true, lsn = h.lsn
    FROM (SELECT DISTINCT ON (payload->>'entity', payload->>'plan', payload->>'goal') lsn, payload AS p
            FROM events WHERE lsn BETWEEN lo AND hi AND type = 'GoalHomologated'
           ORDER BY payload->>'entity', payload->>'plan', payload->>'goal', lsn DESC) h
   WHERE g.entity = h.p->>'entity' AND g.plan = h.p->>'plan' AND g.goal = h.p->>'goal';

  INSERT INTO programming AS x (entity, plan, goal, year, physical, resources, lsn)
  SELECT DISTINCT ON (p->>'entity', p->>'plan', p->>'goal', (p->>'year')::int)
         p->>'entity', p->>'plan', p->>'goal', (p->>'year')::int, (p->>'physical')::double precision,
         p->'resources', lsn
    FROM (SELECT lsn, payload AS p FROM events WHERE lsn BETWEEN lo AND hi AND type = 'GoalProgrammed') e
   ORDER BY p->>'entity', p->>'plan', p->>'goal', (p->>'year')::int, lsn DESC
  ON CONFLICT (entity, plan, goal, year) DO UPDATE
     SET physical = excluded.physical, resources = excluded.resources, lsn = excluded.lsn;

  INSERT INTO progress AS x (entity, plan, goal, campaign, milestone, year, physical_ytd, obligaciones,
                             recorded_at, lsn)
  SELECT DISTINCT ON (p->>'entity', p->>'plan', p->>'goal', p->>'campaign', p->>'milestone')
         p->>'entity', p->>'plan', p->>'goal', p->>'campaign', p->>'milestone', (p->>'year')::int,
         (p->>'physical_ytd')::double precision,
         (SELECT sum((f->>'obligaciones')::bigint) FROM jsonb_array_elements(coalesce(p->'financial', '[]')) f),
         recorded_at, lsn
    FROM (SELECT lsn, recorded_at, payload AS p FROM events
           WHERE lsn BETWEEN lo AND hi AND type = 'ProgressReported') e
   ORDER BY p->>'entity', p->>'plan', p->>'goal', p->>'campaign', p->>'milestone', lsn DESC
  ON CONFLICT (entity, plan, goal, campaign, milestone) DO UPDATE
     SET year = excluded.year, physical_ytd = excluded.physical_ytd, obligaciones = excluded.obligaciones,
         recorded_at = excluded.recorded_at, lsn = excluded.lsn;

  -- audit: every event of an entity stream, under the object it concerns
  INSERT INTO audit (entity, object, lsn, recorded_at, actor, role, type, before, after)
  SELECT stream,
         CASE
           WHEN payload ? 'goal' THEN (payload->>'plan') || '/' || (payload->>'goal')
           WHEN payload ? 'milestone' THEN 'report:' || (payload->>'campaign') || '/' || (payload->>'milestone')
           WHEN payload ? 'user' THEN 'user:' || (payload->>'user')
           WHEN payload ? 'email' THEN 'user:' || (payload->>'email')
           ELSE type
         END,
         lsn, recorded_at, envelope->'actor'->>'user', envelope->'actor'->>'role', type,
         payload->'previous', payload - 'previous'
    FROM events
   WHERE lsn BETWEEN lo AND hi AND stream <> 'directory'
  ON CONFLICT DO NOTHING;

  -- reviews
  INSERT INTO reviews AS r (entity, campaign, milestone, submitted_at, days_late, lsn)
  SELECT DISTINCT ON (payload->>'entity', payload->>'campaign', payload->>'milestone')
         payload->>'entity', payload->>'campaign', payload->>'milestone', recorded_at,
         coalesce((envelope->>'days_late')::int, 0), lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'ReportSubmitted'
   ORDER BY payload->>'entity', payload->>'campaign', payload->>'milestone', lsn DESC
  ON CONFLICT (entity, campaign, milestone) DO UPDATE
     SET submitted_at = excluded.submitted_at, days_late = excluded.days_late, lsn = excluded.lsn;

  INSERT INTO reviews AS r (entity, campaign, milestone, validated_at, lsn)
  SELECT DISTINCT ON (payload->>'entity', payload->>'campaign', payload->>'milestone')
         payload->>'entity', payload->>'campaign', payload->>'milestone', recorded_at, lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'ReportValidated'
   ORDER BY payload->>'entity', payload->>'campaign', payload->>'milestone', lsn DESC
  ON CONFLICT (entity, campaign, milestone) DO UPDATE
     SET validated_at = excluded.validated_at, lsn = excluded.lsn;

  INSERT INTO reviews AS r (entity, campaign, milestone, adjustment_request, adjustment_due, lsn)
  SELECT DISTINCT ON (payload->>'entity', payload->>'campaign', payload->>'milestone')
         payload->>'entity', payload->>'campaign', payload->>'milestone', payload->>'request_id',
         payload->>'due', lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'AdjustmentRequested'
   ORDER BY payload->>'entity', payload->>'campaign', payload->>'milestone', lsn DESC
  ON CONFLICT (entity, campaign, milestone) DO UPDATE
     SET adjustment_request = excluded.adjustment_request, adjustment_due = excluded.adjustment_due,
         answered_at = NULL, lsn = excluded.lsn;

  UPDATE reviews r SET answered_at = a.recorded_at, lsn = a.lsn
    FROM (SELECT DISTINCT ON (payload->>'request_id') lsn, recorded_at, payload AS p
            FROM events WHERE lsn BETWEEN lo AND hi AND type = 'AdjustmentAnswered'
           ORDER BY payload->>'request_id', lsn DESC) a
   WHERE r.entity = a.p->>'entity' AND r.campaign = a.p->>'campaign' AND r.milestone = a.p->>'milestone';

  -- compliance
  INSERT INTO compliance AS c (campaign, milestone, entity, status, lsn)
  SELECT DISTINCT ON (payload->>'campaign', payload->>'milestone', payload->>'entity')
         payload->>'campaign', payload->>'milestone', payload->>'entity',
         CASE WHEN coalesce((envelope->>'days_late')::int, 0) > 0 THEN 'late' ELSE 'on_time' END, lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'ReportSubmitted'
   ORDER BY payload->>'campaign', payload->>'milestone', payload->>'entity', lsn DESC
  ON CONFLICT (campaign, milestone, entity) DO UPDATE SET status = excluded.status, lsn = excluded.lsn;

  INSERT INTO compliance AS c (campaign, milestone, entity, status, notified_at, notified_reason, lsn)
  SELECT DISTINCT ON (payload->>'campaign', payload->>'milestone', payload->>'entity')
         payload->>'campaign', payload->>'milestone', payload->>'entity', 'missing', recorded_at,
         payload->>'reason', lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'NonComplianceNotified'
   ORDER BY payload->>'campaign', payload->>'milestone', payload->>'entity', lsn DESC
  ON CONFLICT (campaign, milestone, entity) DO UPDATE
     SET notified_at = excluded.notified_at, notified_reason = excluded.notified_reason, lsn = excluded.lsn;

  INSERT INTO compliance AS c (campaign, milestone, entity, status, referred_at, referred_to, lsn)
  SELECT DISTINCT ON (payload->>'campaign', payload->>'milestone', payload->>'entity')
         payload->>'campaign', payload->>'milestone', payload->>'entity', 'missing', recorded_at,
         payload->>'control_body', lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'ReferredToControlBody'
   ORDER BY payload->>'campaign', payload->>'milestone', payload->>'entity', lsn DESC
  ON CONFLICT (campaign, milestone, entity) DO UPDATE
     SET referred_at = excluded.referred_at, referred_to = excluded.referred_to, lsn = excluded.lsn;

  -- users
  INSERT INTO leader_history (entity, lsn, leader, previous_leader, at)
  SELECT payload->>'entity', lsn, payload->>'email', payload->>'previous_leader', recorded_at
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'LeaderActivated'
  ON CONFLICT DO NOTHING;

  INSERT INTO leaders AS l (entity, leader, since, lsn)
  SELECT DISTINCT ON (payload->>'entity') payload->>'entity', payload->>'email', recorded_at, lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'LeaderActivated'
   ORDER BY payload->>'entity', lsn DESC
  ON CONFLICT (entity) DO UPDATE SET leader = excluded.leader, since = excluded.since, lsn = excluded.lsn;

  INSERT INTO roles AS r ("user", role, scope, granted_at, revoked_at, lsn)
  SELECT DISTINCT ON (payload->>'user', payload->>'role', payload->>'scope')
         payload->>'user', payload->>'role', payload->>'scope',
         CASE WHEN type = 'RoleGranted' THEN recorded_at END,
         CASE WHEN type = 'RoleRevoked' THEN recorded_at END, lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type IN ('RoleGranted', 'RoleRevoked')
   ORDER BY payload->>'user', payload->>'role', payload->>'scope', lsn DESC
  ON CONFLICT ("user", role, scope) DO UPDATE
     SET granted_at = coalesce(excluded.granted_at, r.granted_at), revoked_at = excluded.revoked_at,
         lsn = excluded.lsn;

  -- mdm
  INSERT INTO mdm_inputs AS m (entity, vigencia, methodology, inputs, grp, source, lsn)
  SELECT DISTINCT ON (payload->>'entity', (payload->>'vigencia')::int)
         payload->>'entity', (payload->>'vigencia')::int, payload->>'methodology', payload->'inputs',
         payload->>'group', payload->>'source', lsn
    FROM events WHERE lsn BETWEEN lo AND hi AND type = 'MdmInputsRecorded'
   ORDER BY payload->>'entity', (payload->>'vigencia')::int, lsn DESC
  ON CONFLICT (entity, vigencia) DO UPDATE
     SET methodology = excluded.methodology, inputs = excluded.inputs, grp = excluded.grp,
         source = excluded.source, lsn = excluded.lsn;
END $$;

-- The write path: a batch of rendered events (a JSON array of veeduria's canonical event JSON,
-- each with its "position"), inserted and projected in the caller's transaction.
CREATE FUNCTION append_batch(batch jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE lo bigint; hi bigint;
BEGIN
  SELECT min((e->'position'->>'lsn')::bigint), max((e->'position'->>'lsn')::bigint) INTO lo, hi
    FROM jsonb_array_elements(batch) e;
  INSERT INTO events (lsn, stream, stream_seq, type, recorded_at, hash, envelope, payload)
  SELECT (e->'position'->>'lsn')::bigint, e->'envelope'->>'stream', (e->'envelope'->>'stream_seq')::bigint,
         e->>'type', (e->'envelope'->>'recorded_at')::timestamptz, e->>'hash', e->'envelope', e->'payload'
    FROM jsonb_array_elements(batch) e;
  PERFORM project(lo, hi);
  RETURN hi;
END $$;

CREATE FUNCTION rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE goals, programming, progress, audit, reviews, compliance, leaders, leader_history, roles, mdm_inputs;
  PERFORM project(0, (SELECT coalesce(max(lsn), 0) FROM events));
END $$;
