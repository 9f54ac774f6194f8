-- Events, dead letters, alerts and API tokens.
--
-- Times are BIGINT microseconds since the Unix epoch (UTC), so ordering and range filters are exact
-- and identical to the SQLite schema. Ids are canonical ULID text compared with the "C" collation,
-- whose byte order is their time order. The whole record is kept in `doc`; the other columns exist
-- to filter and sort.

CREATE TABLE events (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant      TEXT   NOT NULL,
    time_us     BIGINT NOT NULL,
    ingested_us BIGINT NOT NULL,
    domain      TEXT   NOT NULL,
    class       TEXT   NOT NULL,
    site        TEXT,
    site_id     TEXT,
    person      TEXT,
    person_id   TEXT,
    user_name   TEXT,
    badge       TEXT,
    message     TEXT,
    -- Lower-cased message and serialised fields, for the free-text filter.
    search      TEXT   NOT NULL,
    doc         JSONB  NOT NULL
);

CREATE INDEX events_tenant_time ON events (tenant, time_us, id);
CREATE INDEX events_tenant_domain_time ON events (tenant, domain, time_us, id);
CREATE INDEX events_tenant_class_time ON events (tenant, class, time_us, id);
CREATE INDEX events_tenant_site ON events (tenant, site, time_us) WHERE site IS NOT NULL;
CREATE INDEX events_tenant_site_id ON events (tenant, site_id, time_us) WHERE site_id IS NOT NULL;
CREATE INDEX events_tenant_person ON events (tenant, person, time_us) WHERE person IS NOT NULL;
CREATE INDEX events_tenant_person_id ON events (tenant, person_id, time_us) WHERE person_id IS NOT NULL;
CREATE INDEX events_tenant_user ON events (tenant, user_name, time_us) WHERE user_name IS NOT NULL;
CREATE INDEX events_tenant_badge ON events (tenant, badge, time_us) WHERE badge IS NOT NULL;
-- Retention deletes across tenants by time.
CREATE INDEX events_time ON events (time_us);

CREATE TABLE dead_letters (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant      TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    received_us BIGINT  NOT NULL,
    reason      TEXT    NOT NULL,
    line        BIGINT,
    raw         BYTEA   NOT NULL,
    truncated   BOOLEAN NOT NULL
);

CREATE INDEX dead_letters_tenant_received ON dead_letters (tenant, received_us, id);
CREATE INDEX dead_letters_tenant_source ON dead_letters (tenant, source, received_us, id);
CREATE INDEX dead_letters_received ON dead_letters (received_us);

CREATE TABLE alerts (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant       TEXT    NOT NULL,
    detector     TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    severity     INTEGER NOT NULL,
    dedup_key    TEXT    NOT NULL,
    detected_us  BIGINT  NOT NULL,
    last_seen_us BIGINT  NOT NULL,
    doc          JSONB   NOT NULL
);

CREATE INDEX alerts_tenant_detected ON alerts (tenant, detected_us, id);
CREATE INDEX alerts_tenant_detector ON alerts (tenant, detector, detected_us, id);
CREATE INDEX alerts_tenant_status ON alerts (tenant, status, detected_us, id);
CREATE INDEX alerts_tenant_dedup ON alerts (tenant, dedup_key, last_seen_us);

CREATE TABLE api_tokens (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    token_hash TEXT   NOT NULL UNIQUE,
    role       TEXT   NOT NULL,
    tenant     TEXT   NOT NULL,
    created_us BIGINT NOT NULL
);
