-- People who log in to the dashboard, and their sessions. Passwords are stored as argon2id PHC
-- strings; sessions by the SHA-256 of their secret, never the secret itself.

CREATE TABLE users (
    username      TEXT    NOT NULL PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    tenant        TEXT    NOT NULL,
    created_us    BIGINT  NOT NULL
);

CREATE INDEX users_tenant ON users (tenant, username);

CREATE TABLE sessions (
    id_hash    TEXT    NOT NULL PRIMARY KEY,
    username   TEXT    NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_us BIGINT  NOT NULL,
    expires_us BIGINT  NOT NULL
);

CREATE INDEX sessions_expires ON sessions (expires_us);
