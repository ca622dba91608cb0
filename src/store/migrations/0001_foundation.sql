-- Foundation: regions, approval roles, users, sessions, audit log.
-- No foreign keys: DuckDB refuses updates of referenced rows; references are kept by the store's code.

CREATE TABLE regions (
    adcode    INTEGER PRIMARY KEY,
    name      VARCHAR NOT NULL,
    level     VARCHAR NOT NULL,
    parent    INTEGER,
    path      VARCHAR NOT NULL  -- '/330000/330100/330106/', for scoping with starts_with
);

CREATE SEQUENCE approval_roles_id START 1;
CREATE TABLE approval_roles (
    id          BIGINT PRIMARY KEY DEFAULT nextval('approval_roles_id'),
    name        VARCHAR NOT NULL,
    description VARCHAR NOT NULL DEFAULT '',
    region      INTEGER NOT NULL,   -- the region whose administrators own it; usable there and below
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    deleted_at  TIMESTAMP           -- roles are retired, never removed: history names them
);

CREATE SEQUENCE users_id START 1;
CREATE TABLE users (
    id                   BIGINT PRIMARY KEY DEFAULT nextval('users_id'),
    login_name           VARCHAR NOT NULL UNIQUE,
    real_name            VARCHAR NOT NULL,
    region               INTEGER NOT NULL,
    mobile               VARCHAR NOT NULL,
    user_type            VARCHAR NOT NULL,
    approval_role_id     BIGINT,
    password_hash        VARCHAR NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT false,
    frozen               BOOLEAN NOT NULL DEFAULT false,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id           VARCHAR PRIMARY KEY,  -- SHA-256 of the cookie token; the token itself is never stored
    user_id      BIGINT NOT NULL,
    csrf         VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    ended_at     TIMESTAMP,
    end_reason   VARCHAR
);

CREATE SEQUENCE audit_log_id START 1;
CREATE TABLE audit_log (
    id           BIGINT PRIMARY KEY DEFAULT nextval('audit_log_id'),
    occurred_at  TIMESTAMP NOT NULL,
    actor_id     BIGINT,
    actor_login  VARCHAR NOT NULL,
    actor_region INTEGER,
    source       VARCHAR NOT NULL,
    action       VARCHAR NOT NULL,
    object       VARCHAR NOT NULL,
    result       VARCHAR NOT NULL,  -- 'ok' or 'refused'
    detail       VARCHAR NOT NULL
);
CREATE INDEX audit_log_occurred_at ON audit_log (occurred_at);
