-- Where each activity is held, at every level, with the columns the situation map and the statistics filter by.
-- One row per activity and region it is held in: every region of activity_regions and each of its ancestors, once
-- (an activity held in two counties of one city has two county rows, one city row and one province row). So an
-- activity counts once in every region, and the regions of one level partition nothing twice.
-- Derived data: store::places keeps it equal to activities + activity_regions + regions in the same transaction as
-- every write of those; the tests compare it with a fresh derivation (store::places::differences).
CREATE TABLE activity_places (
    activity_id BIGINT NOT NULL,
    region      INTEGER NOT NULL,  -- the region (any level)
    depth       INTEGER NOT NULL,  -- its level: 1 province, 2 city, 3 county
    province    INTEGER NOT NULL,  -- the region's province, city and county on its path (NULL below its level)
    city        INTEGER,
    county      INTEGER,
    day         DATE NOT NULL,     -- the activity's first day (start_at)
    kind        VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    audience    BIGINT NOT NULL    -- attendance per session × sessions
);
-- Filled from the existing activities by store::places::rebuild in the migration's transaction.

-- The agencies that assessed each activity, each pair once (assessments accumulate over resubmissions), so that
-- the map counts assessed activities per agency without DISTINCT. Written with every assessment (store::exchange,
-- the demo generator).
CREATE TABLE activity_agencies (activity_id BIGINT NOT NULL, agency_id BIGINT NOT NULL);
INSERT INTO activity_agencies SELECT DISTINCT activity_id, agency_id FROM assessments;

-- Each venue once per activity (an application naming one venue twice linked it twice); the map counts the pairs.
CREATE TABLE activity_venues_once AS SELECT DISTINCT activity_id, venue_id FROM activity_venues;
DELETE FROM activity_venues;
INSERT INTO activity_venues SELECT activity_id, venue_id FROM activity_venues_once;
DROP TABLE activity_venues_once;
