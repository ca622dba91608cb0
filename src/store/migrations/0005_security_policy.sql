-- The security policy (password rule, lock-out, session lifetimes), owned by the security administrator (安全管理员).
-- Every save adds a version; the newest is in force. No row means the built-in default (8 characters of 3 classes,
-- 5 failures lock for 15 minutes, 30 idle minutes, 8 hours). Each change also has its audit_log row.

CREATE SEQUENCE security_policy_id START 1;
CREATE TABLE security_policy (
    id                     BIGINT PRIMARY KEY DEFAULT nextval('security_policy_id'),
    password_min_len       INTEGER NOT NULL,
    password_classes       INTEGER NOT NULL,
    lockout_after          INTEGER NOT NULL,
    lockout_minutes        INTEGER NOT NULL,
    session_idle_minutes   INTEGER NOT NULL,
    session_absolute_hours INTEGER NOT NULL,
    created_by             BIGINT NOT NULL,     -- the security administrator's user id
    created_by_login       VARCHAR NOT NULL,
    created_at             TIMESTAMP NOT NULL
);
