-- Incidents: groups of alerts handled as one. The whole incident (alerts, timeline) is the JSON
-- in `doc`; `incident_alerts` maps each alert to the one incident that holds it.

CREATE TABLE incidents (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant          TEXT    NOT NULL,
    revision        INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    severity        INTEGER NOT NULL,
    group_key       TEXT    NOT NULL,
    opened_us       INTEGER NOT NULL,
    last_alert_us   INTEGER NOT NULL,
    assigned_team   TEXT,
    assigned_person TEXT,
    doc             TEXT    NOT NULL
);

CREATE INDEX incidents_tenant_opened ON incidents (tenant, opened_us, id);
CREATE INDEX incidents_tenant_state ON incidents (tenant, state, opened_us, id);
CREATE INDEX incidents_tenant_group ON incidents (tenant, group_key, last_alert_us);

CREATE TABLE incident_alerts (
    tenant      TEXT NOT NULL,
    alert_id    TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    PRIMARY KEY (tenant, alert_id)
);

CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id);
