-- The permit workflow: organizers, venues, activities and everything attached to them, flows, scale rules, the
-- holiday calendar, SMS templates, pending results, exchange logs and decision documents.

CREATE SEQUENCE organizers_id START 1;
CREATE TABLE organizers (
    id             BIGINT PRIMARY KEY DEFAULT nextval('organizers_id'),
    credit_code    VARCHAR NOT NULL UNIQUE,
    name           VARCHAR NOT NULL,
    contact_name   VARCHAR NOT NULL,
    contact_mobile VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL
);

CREATE SEQUENCE venues_id START 1;
CREATE TABLE venues (
    id         BIGINT PRIMARY KEY DEFAULT nextval('venues_id'),
    name       VARCHAR NOT NULL,
    region     INTEGER NOT NULL,
    address    VARCHAR NOT NULL,
    lon        DOUBLE,
    lat        DOUBLE,
    capacity   INTEGER NOT NULL,   -- 核定容量
    created_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE agencies_id START 1;
CREATE TABLE agencies (
    id          BIGINT PRIMARY KEY DEFAULT nextval('agencies_id'),
    name        VARCHAR NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL
);

-- Attachments: bytes on disk under their SM3 name, metadata here.
CREATE SEQUENCE files_id START 1;
CREATE TABLE files (
    id         BIGINT PRIMARY KEY DEFAULT nextval('files_id'),
    sm3        VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    mime       VARCHAR NOT NULL,
    size       BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE activities_id START 1;
CREATE TABLE activities (
    id              BIGINT PRIMARY KEY DEFAULT nextval('activities_id'),
    portal_ref      VARCHAR NOT NULL UNIQUE,  -- the portal's id of the application
    name            VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    organizer_id    BIGINT NOT NULL,
    start_at        TIMESTAMP NOT NULL,       -- Beijing local time of the event
    end_at          TIMESTAMP NOT NULL,
    sessions        INTEGER NOT NULL,
    attendance      INTEGER NOT NULL,         -- expected per session (the largest session)
    contact_name    VARCHAR NOT NULL,
    contact_mobile  VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,
    step            INTEGER,                  -- 0-based current step while in approval
    steps           INTEGER NOT NULL DEFAULT 0,
    flow_id         BIGINT,                   -- the flow version used since acceptance
    bureau          INTEGER NOT NULL,         -- the approving region
    routing_reason  VARCHAR NOT NULL,
    submitted_at    TIMESTAMP NOT NULL,
    status_since    TIMESTAMP NOT NULL,       -- when the current status (or step) began
    accepted_at     TIMESTAMP,
    decided_at      TIMESTAMP,
    revision        INTEGER NOT NULL DEFAULT 0,  -- +1 at every transition; actions name the revision they saw
    created_at      TIMESTAMP NOT NULL
);
CREATE TABLE activity_regions (activity_id BIGINT NOT NULL, region INTEGER NOT NULL);
CREATE TABLE activity_venues (activity_id BIGINT NOT NULL, venue_id BIGINT NOT NULL);

CREATE SEQUENCE assessments_id START 1;
CREATE TABLE assessments (
    id          BIGINT PRIMARY KEY DEFAULT nextval('assessments_id'),
    activity_id BIGINT NOT NULL,
    agency_id   BIGINT NOT NULL,
    risk_grade  VARCHAR NOT NULL,   -- 低 / 中 / 高
    file_id     BIGINT,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE material_kinds (
    region   INTEGER NOT NULL,
    code     VARCHAR NOT NULL,
    name     VARCHAR NOT NULL,
    required BOOLEAN NOT NULL,      -- false: may come later 容缺后补
    position INTEGER NOT NULL
);

CREATE SEQUENCE materials_id START 1;
CREATE TABLE materials (
    id          BIGINT PRIMARY KEY DEFAULT nextval('materials_id'),
    activity_id BIGINT NOT NULL,
    kind        VARCHAR NOT NULL,
    file_id     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE SEQUENCE surveys_id START 1;
CREATE TABLE surveys (
    id          BIGINT PRIMARY KEY DEFAULT nextval('surveys_id'),
    activity_id BIGINT NOT NULL,
    survey_date DATE NOT NULL,
    surveyors   VARCHAR NOT NULL,
    report      VARCHAR NOT NULL,
    file_id     BIGINT,
    created_by  BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE SEQUENCE rectifications_id START 1;
CREATE TABLE rectifications (
    id          BIGINT PRIMARY KEY DEFAULT nextval('rectifications_id'),
    survey_id   BIGINT NOT NULL,
    activity_id BIGINT NOT NULL,
    opinion     VARCHAR NOT NULL,
    feedback    VARCHAR,
    feedback_at TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);

CREATE SEQUENCE inspections_id START 1;
CREATE TABLE inspections (
    id           BIGINT PRIMARY KEY DEFAULT nextval('inspections_id'),
    activity_id  BIGINT NOT NULL,
    inspected_at TIMESTAMP NOT NULL,
    findings     VARCHAR NOT NULL,
    file_id      BIGINT,
    created_by   BIGINT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);

CREATE SEQUENCE approval_history_id START 1;
CREATE TABLE approval_history (
    id              BIGINT PRIMARY KEY DEFAULT nextval('approval_history_id'),
    activity_id     BIGINT NOT NULL,
    occurred_at     TIMESTAMP NOT NULL,
    actor_id        BIGINT,            -- NULL for the organizer (via an imported bundle)
    actor_name      VARCHAR NOT NULL,
    role_name       VARCHAR NOT NULL,
    action          VARCHAR NOT NULL,
    from_status     VARCHAR NOT NULL,
    to_status       VARCHAR NOT NULL,
    step            INTEGER,
    step_name       VARCHAR NOT NULL DEFAULT '',
    opinion         VARCHAR NOT NULL DEFAULT '',
    time_limit_days INTEGER,
    taken_days      INTEGER            -- working days from the start of the status/step to this action
);

CREATE SEQUENCE flows_id START 1;
CREATE TABLE flows (
    id         BIGINT PRIMARY KEY DEFAULT nextval('flows_id'),
    region     INTEGER NOT NULL,
    version    INTEGER NOT NULL,        -- versions are never changed; the newest is in force
    name       VARCHAR NOT NULL,
    created_by BIGINT,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE flow_steps (
    flow_id         BIGINT NOT NULL,
    position        INTEGER NOT NULL,   -- 0-based
    name            VARCHAR NOT NULL,
    role_id         BIGINT NOT NULL,
    time_limit_days INTEGER NOT NULL
);

CREATE SEQUENCE scale_rules_id START 1;
CREATE TABLE scale_rules (
    id           BIGINT PRIMARY KEY DEFAULT nextval('scale_rules_id'),
    permit_min   INTEGER NOT NULL,
    city_min     INTEGER NOT NULL,
    province_min INTEGER,
    created_by   BIGINT,
    created_at   TIMESTAMP NOT NULL
);

CREATE TABLE calendar_days (
    day  DATE PRIMARY KEY,
    kind VARCHAR NOT NULL,   -- holiday / workday
    name VARCHAR NOT NULL
);

CREATE TABLE sms_templates (
    region     INTEGER NOT NULL,
    kind       VARCHAR NOT NULL,
    text       VARCHAR NOT NULL,
    address    VARCHAR NOT NULL DEFAULT '',
    phone      VARCHAR NOT NULL DEFAULT '',
    materials  VARCHAR NOT NULL DEFAULT '',
    updated_by BIGINT,
    updated_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE documents_id START 1;
CREATE TABLE documents (
    id          BIGINT PRIMARY KEY DEFAULT nextval('documents_id'),
    activity_id BIGINT NOT NULL,
    kind        VARCHAR NOT NULL,
    number      VARCHAR NOT NULL UNIQUE,
    body        VARCHAR NOT NULL,   -- DecisionDocument as JSON
    created_at  TIMESTAMP NOT NULL
);
CREATE TABLE document_sequences (bureau INTEGER NOT NULL, year INTEGER NOT NULL, kind VARCHAR NOT NULL, last INTEGER NOT NULL);

-- Decisions the organizer must learn of, until exported in a result bundle.
CREATE SEQUENCE results_id START 1;
CREATE TABLE results (
    id          BIGINT PRIMARY KEY DEFAULT nextval('results_id'),
    activity_id BIGINT NOT NULL,
    bureau      INTEGER NOT NULL,
    kind        VARCHAR NOT NULL,   -- pre_review / acceptance / approval (the SMS template kind)
    action      VARCHAR NOT NULL,   -- the workflow action code
    to_status   VARCHAR NOT NULL,
    opinion     VARCHAR NOT NULL,
    document_id BIGINT,
    created_at  TIMESTAMP NOT NULL,
    export_id   BIGINT
);

CREATE SEQUENCE exports_id START 1;
CREATE TABLE exports (
    id          BIGINT PRIMARY KEY DEFAULT nextval('exports_id'),
    sequence    BIGINT NOT NULL UNIQUE,
    bundle_hash VARCHAR NOT NULL,
    bundle      BLOB NOT NULL,
    results     INTEGER NOT NULL,
    created_by  BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE SEQUENCE imports_id START 1;
CREATE TABLE imports (
    id          BIGINT PRIMARY KEY DEFAULT nextval('imports_id'),
    channel     VARCHAR NOT NULL,
    sequence    BIGINT,
    bundle_hash VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,   -- applied / held / duplicate / refused
    detail      VARCHAR NOT NULL,
    bundle      BLOB,               -- kept while held
    received_by BIGINT,
    received_at TIMESTAMP NOT NULL,
    applied_at  TIMESTAMP
);

CREATE TABLE trusted_keys (
    key_id      VARCHAR PRIMARY KEY,
    public_hex  VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
