-- The internet side (portal) and filings. Both sites share one schema; each site uses its own tables and leaves
-- the other's empty.

-- Portal accounts: a user (users table, types organizer / government_unit) with its unit.
CREATE TABLE portal_units (
    user_id        BIGINT PRIMARY KEY,
    kind           VARCHAR NOT NULL,        -- organizer / government_unit
    credit_code    VARCHAR NOT NULL UNIQUE, -- 统一社会信用代码
    unit_name      VARCHAR NOT NULL,
    contact_name   VARCHAR NOT NULL,
    contact_mobile VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL
);

-- Applications as the organizer drafts and submits them; `data` is the ApplicationRecord JSON.
CREATE SEQUENCE portal_applications_id START 1;
CREATE TABLE portal_applications (
    id          BIGINT PRIMARY KEY DEFAULT nextval('portal_applications_id'),
    portal_ref  VARCHAR NOT NULL UNIQUE,
    user_id     BIGINT NOT NULL,
    status      VARCHAR NOT NULL,           -- draft, or the workflow status last reported by the intranet
    data        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- Uploaded files of portal applications and filings (bytes on disk under their SM3).
CREATE SEQUENCE portal_files_id START 1;
CREATE TABLE portal_files (
    id         BIGINT PRIMARY KEY DEFAULT nextval('portal_files_id'),
    owner      VARCHAR NOT NULL,            -- portal_ref of the application or filing
    kind       VARCHAR NOT NULL,            -- material kind code, or 'risk_assessment' / 'filing'
    sm3        VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    mime       VARCHAR NOT NULL,
    size       BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    exported   BOOLEAN NOT NULL DEFAULT false
);

-- What the portal must send to the intranet in its next application bundle.
CREATE SEQUENCE portal_outbox_id START 1;
CREATE TABLE portal_outbox (
    id         BIGINT PRIMARY KEY DEFAULT nextval('portal_outbox_id'),
    record     VARCHAR NOT NULL,            -- 'event' / 'feedback' / 'filing'
    body       VARCHAR NOT NULL,            -- the record's JSON
    created_at TIMESTAMP NOT NULL,
    export_id  BIGINT
);

CREATE SEQUENCE portal_exports_id START 1;
CREATE TABLE portal_exports (
    id          BIGINT PRIMARY KEY DEFAULT nextval('portal_exports_id'),
    sequence    BIGINT NOT NULL UNIQUE,
    bundle_hash VARCHAR NOT NULL,
    bundle      BLOB NOT NULL,
    records     INTEGER NOT NULL,
    created_by  BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

-- Rectification opinions received from the intranet, and the organizer's answers.
CREATE TABLE portal_rectifications (
    rectification_id BIGINT NOT NULL,
    portal_ref       VARCHAR NOT NULL,
    opinion          VARCHAR NOT NULL,
    feedback         VARCHAR,
    feedback_at      TIMESTAMP
);

-- Notifications shown to portal users.
CREATE SEQUENCE notifications_id START 1;
CREATE TABLE notifications (
    id         BIGINT PRIMARY KEY DEFAULT nextval('notifications_id'),
    user_id    BIGINT NOT NULL,
    portal_ref VARCHAR NOT NULL,
    title      VARCHAR NOT NULL,
    body       VARCHAR NOT NULL,
    document   VARCHAR,                     -- SM3 of the decision document file, if any
    created_at TIMESTAMP NOT NULL,
    read_at    TIMESTAMP
);

-- SMS waiting for, or done with, the gateway.
CREATE SEQUENCE sms_outbox_id START 1;
CREATE TABLE sms_outbox (
    id              BIGINT PRIMARY KEY DEFAULT nextval('sms_outbox_id'),
    mobile          VARCHAR NOT NULL,
    text            VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,       -- e.g. 'result:12'
    status          VARCHAR NOT NULL,       -- pending / sent / failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);

-- The SMS gateway settings (one row).
CREATE TABLE sms_gateway (
    id         INTEGER PRIMARY KEY,
    url        VARCHAR NOT NULL,
    account    VARCHAR NOT NULL,
    secret     VARCHAR NOT NULL,
    signature  VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Filings 备案 of government-run activities (both sides: drafted on the portal, listed on the intranet).
CREATE SEQUENCE filings_id START 1;
CREATE TABLE filings (
    id            BIGINT PRIMARY KEY DEFAULT nextval('filings_id'),
    portal_ref    VARCHAR NOT NULL UNIQUE,
    unit_name     VARCHAR NOT NULL,
    credit_code   VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    regions       VARCHAR NOT NULL,         -- comma-separated county adcodes
    venue         VARCHAR NOT NULL,
    start_at      TIMESTAMP NOT NULL,
    end_at        TIMESTAMP NOT NULL,
    attendance    INTEGER NOT NULL,
    contact_name  VARCHAR NOT NULL,
    contact_mobile VARCHAR NOT NULL,
    filed_at      TIMESTAMP NOT NULL,
    received_at   TIMESTAMP NOT NULL
);
CREATE TABLE filing_files (
    filing_id BIGINT NOT NULL,
    kind      VARCHAR NOT NULL,             -- 'filing' (报备材料) / 'risk_assessment' (评估报告)
    file_id   BIGINT NOT NULL
);
