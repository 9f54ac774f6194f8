-- The notification outbox: one row per (alert, route, step, repeat, audience), written when the
-- alert is planned and worked through by the delivery workers. `notify_key` is the plan's stable
-- key, so planning the same alert twice enqueues nothing twice; `id` is the idempotency key sent
-- with every attempt. Times are microseconds since the epoch.

CREATE TABLE outbox (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    notify_key      TEXT    NOT NULL UNIQUE,
    tenant          TEXT    NOT NULL,
    alert_id        TEXT COLLATE "C" NOT NULL,
    incident_id     TEXT,
    route           TEXT    NOT NULL,
    plan            TEXT    NOT NULL,
    step            BIGINT  NOT NULL,
    repeat_index    BIGINT  NOT NULL,
    audience        TEXT    NOT NULL,
    recipients      TEXT    NOT NULL,
    visibility      TEXT    NOT NULL,
    channels        TEXT    NOT NULL,
    channel         TEXT,
    status          TEXT    NOT NULL,
    reason          TEXT,
    due_us          BIGINT  NOT NULL,
    next_attempt_us BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL,
    last_error      TEXT,
    payload         TEXT,
    created_us      BIGINT  NOT NULL,
    sent_us         BIGINT,
    claim           TEXT,
    lease_us        BIGINT 
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_us);
CREATE INDEX outbox_alert ON outbox (tenant, alert_id, status);
CREATE INDEX outbox_incident ON outbox (tenant, incident_id);

-- Silences: alerts matching `matchers` (JSON, the routing matcher) are not notified between
-- `starts_us` and `ends_us`.
CREATE TABLE silences (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    matchers   TEXT    NOT NULL,
    starts_us  BIGINT  NOT NULL,
    ends_us    BIGINT  NOT NULL,
    created_by TEXT    NOT NULL,
    comment    TEXT    NOT NULL
);

CREATE INDEX silences_tenant_ends ON silences (tenant, ends_us);
