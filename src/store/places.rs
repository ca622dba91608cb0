//! `activity_places`: where each activity is held at every level (each region of `activity_regions` and each of its
//! ancestors, once), with the columns the situation map and the statistics filter by (day, kind, status, audience).
//!
//! It is derived data, kept here so that the map and the statistics read one narrow table instead of joining
//! activities to their regions and de-duplicating on every request. Every write of `activities` or
//! `activity_regions` calls [`refresh`] (or [`set_status`] for a status change) in its own transaction, so the table
//! is never out of step with what it is derived from; [`differences`] compares it with a fresh derivation.
//!
//! The derivation is done here in Rust over plain reads (one activity's row and regions, or one scan of all of
//! them), not as one SQL statement joining the region paths: DuckDB 2.0.0 throws an internal error ("dict-surviving
//! cache: global dictionary column … changed identity") on such a statement over a few thousand activities — and an
//! internal error invalidates the database.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use duckdb::{Connection, params};

/// The schema version that created the table (its migration fills it with [`rebuild`]).
pub const SINCE_VERSION: i32 = 6;

/// One row of `activity_places`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The activity.
    pub activity_id: i64,
    /// A region it is held in (any level).
    pub region: i32,
    /// The region's level: 1 province, 2 city, 3 county.
    pub depth: i32,
    /// The province, city and county on the region's path (`None` below its level).
    pub province: i32,
    /// See `province`.
    pub city: Option<i32>,
    /// See `province`.
    pub county: Option<i32>,
    /// The activity's first day.
    pub day: NaiveDate,
    /// Its kind code.
    pub kind: String,
    /// Its status code.
    pub status: String,
    /// Attendance per session × sessions.
    pub audience: i64,
}

/// What an activity contributes to each of its rows.
#[derive(Debug, Clone)]
pub struct Activity {
    /// Its first day.
    pub day: NaiveDate,
    /// Its kind code.
    pub kind: String,
    /// Its status code.
    pub status: String,
    /// Attendance per session × sessions.
    pub audience: i64,
}

/// The codes on each region's path, root first, as the `regions` table has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths(HashMap<i32, Vec<i32>>);

impl Paths {
    /// Reads the `regions` table.
    pub fn load(conn: &Connection) -> duckdb::Result<Paths> {
        let mut stmt = conn.prepare_cached("SELECT adcode, path FROM regions")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (code, path) = row?;
            out.insert(code, path.split('/').filter_map(|p| p.parse().ok()).collect());
        }
        Ok(Paths(out))
    }
}

/// Appends the rows of activity `id` held in `regions` to `out` (codes unknown to `paths` are skipped), each region
/// once.
pub fn derive(paths: &Paths, id: i64, a: &Activity, regions: &[i32], out: &mut Vec<Place>) {
    let first = out.len();
    for region in regions {
        let Some(path) = paths.0.get(region) else { continue };
        for depth in 1..=path.len().min(3) {
            let code = path[depth - 1];
            if out[first..].iter().any(|p| p.region == code) {
                continue;
            }
            out.push(Place {
                activity_id: id,
                region: code,
                depth: i32::try_from(depth).unwrap_or(3),
                province: path[0],
                city: (depth >= 2).then(|| path[1]),
                county: (depth >= 3).then(|| path[2]),
                day: a.day,
                kind: a.kind.clone(),
                status: a.status.clone(),
                audience: a.audience,
            });
        }
    }
}

fn activity_from(start: NaiveDateTime, kind: String, status: String, attendance: i64, sessions: i64) -> Activity {
    Activity { day: start.date(), kind, status, audience: attendance.saturating_mul(sessions) }
}

/// Every row a fresh derivation gives, ordered by activity and region.
fn derive_all(conn: &Connection) -> duckdb::Result<Vec<Place>> {
    let paths = Paths::load(conn)?;
    let mut stmt = conn.prepare(
        "SELECT ar.activity_id, ar.region, a.start_at, a.kind, a.status, a.attendance, a.sessions
         FROM activity_regions ar JOIN activities a ON a.id = ar.activity_id ORDER BY ar.activity_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    let mut current: Option<(i64, Activity, Vec<i32>)> = None;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let region: i32 = r.get(1)?;
        match &mut current {
            Some((cur, _, regions)) if *cur == id => regions.push(region),
            _ => {
                if let Some((cur, a, regions)) = current.take() {
                    derive(&paths, cur, &a, &regions, &mut out);
                }
                let a = activity_from(r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
                current = Some((id, a, vec![region]));
            }
        }
    }
    if let Some((cur, a, regions)) = current {
        derive(&paths, cur, &a, &regions, &mut out);
    }
    out.sort();
    Ok(out)
}

/// Appends `places` to the table (rows that [`derive`] gave).
pub fn insert(conn: &Connection, places: &[Place]) -> duckdb::Result<()> {
    let mut app = conn.appender("activity_places")?;
    for p in places {
        app.append_row(params![
            p.activity_id,
            p.region,
            p.depth,
            p.province,
            p.city,
            p.county,
            p.day,
            p.kind,
            p.status,
            p.audience
        ])?;
    }
    app.flush()
}

/// Derives the whole table again (after the migration, a bulk load or a changed region tree).
pub fn rebuild(conn: &Connection) -> duckdb::Result<()> {
    let places = derive_all(conn)?;
    conn.prepare_cached("DELETE FROM activity_places")?.execute([])?;
    insert(conn, &places)
}

/// Derives the places of activity `id` again, after its content, regions or status changed.
pub fn refresh(conn: &Connection, id: i64) -> duckdb::Result<()> {
    conn.prepare_cached("DELETE FROM activity_places WHERE activity_id = ?")?.execute([id])?;
    let activity = conn
        .prepare_cached("SELECT start_at, kind, status, attendance, sessions FROM activities WHERE id = ?")?
        .query_row([id], |r| Ok(activity_from(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)));
    let activity = match activity {
        Ok(a) => a,
        Err(duckdb::Error::QueryReturnedNoRows) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut stmt = conn.prepare("SELECT region FROM activity_regions WHERE activity_id = ?")?;
    let regions = stmt.query_map([id], |r| r.get::<_, i32>(0))?.collect::<duckdb::Result<Vec<_>>>()?;
    let mut places = Vec::new();
    derive(&Paths::load(conn)?, id, &activity, &regions, &mut places);
    insert(conn, &places)
}

/// Records a new status of activity `id` (the only column a workflow transition changes).
pub fn set_status(conn: &Connection, id: i64, status: &str) -> duckdb::Result<()> {
    conn.prepare_cached("UPDATE activity_places SET status = ? WHERE activity_id = ?")?.execute(params![status, id])?;
    Ok(())
}

/// Rows that differ between the table and a fresh derivation (missing plus surplus); 0 when in step.
pub fn differences(conn: &Connection) -> duckdb::Result<i64> {
    let expected = derive_all(conn)?;
    let mut stmt = conn.prepare(
        "SELECT activity_id, region, depth, province, city, county, day, kind, status, audience FROM activity_places",
    )?;
    let mut actual = stmt
        .query_map([], |r| {
            Ok(Place {
                activity_id: r.get(0)?,
                region: r.get(1)?,
                depth: r.get(2)?,
                province: r.get(3)?,
                city: r.get(4)?,
                county: r.get(5)?,
                day: r.get(6)?,
                kind: r.get(7)?,
                status: r.get(8)?,
                audience: r.get(9)?,
            })
        })?
        .collect::<duckdb::Result<Vec<_>>>()?;
    actual.sort();
    // A merge of the two sorted lists: rows in one and not the other.
    let (mut i, mut j, mut differ) = (0, 0, 0i64);
    while i < expected.len() || j < actual.len() {
        match (expected.get(i), actual.get(j)) {
            (Some(e), Some(a)) if e == a => {
                i += 1;
                j += 1;
            }
            (Some(e), Some(a)) if e < a => {
                differ += 1;
                i += 1;
            }
            (Some(_), Some(_)) | (None, Some(_)) => {
                differ += 1;
                j += 1;
            }
            (Some(_), None) => {
                differ += 1;
                i += 1;
            }
            (None, None) => break,
        }
    }
    Ok(differ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> Connection {
        let (conn, _) = crate::reports::tests::database();
        crate::reports::tests::sample_data(&conn);
        conn
    }

    fn places(conn: &Connection, id: i64) -> Vec<(i32, i32, Option<i32>, Option<i32>, String)> {
        let mut s = conn
            .prepare(
                "SELECT region, depth, city, county, status FROM activity_places WHERE activity_id = ?
                 ORDER BY depth, region",
            )
            .unwrap();
        s.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn an_activity_in_two_counties_of_one_city_is_held_once_in_the_city_and_the_province() {
        let conn = database();
        // Activity 2 is held in 西湖区 and 滨江区 (both 杭州市).
        let p = places(&conn, 2);
        let regions: Vec<i32> = p.iter().map(|r| r.0).collect();
        assert_eq!(regions, [330000, 330100, 330106, 330108]);
        assert_eq!(p[0].1, 1);
        assert_eq!((p[0].2, p[0].3), (None, None));
        assert_eq!((p[1].1, p[1].2, p[1].3), (2, Some(330100), None));
        assert_eq!((p[3].1, p[3].2, p[3].3), (3, Some(330100), Some(330108)));
        let audience: i64 = conn
            .query_row("SELECT audience FROM activity_places WHERE activity_id = 1 LIMIT 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(audience, 6000, "attendance 3000 × 2 sessions");
        assert_eq!(differences(&conn).unwrap(), 0);
    }

    #[test]
    fn refresh_and_set_status_keep_the_table_in_step_and_differences_sees_drift() {
        let conn = database();
        conn.execute("UPDATE activities SET status = 'approved' WHERE id = 1", []).unwrap();
        // Activity 1 has three stale rows (county, city, province), each missing and surplus.
        assert_eq!(differences(&conn).unwrap(), 6);
        set_status(&conn, 1, "approved").unwrap();
        assert_eq!(differences(&conn).unwrap(), 0);
        conn.execute("DELETE FROM activity_regions WHERE activity_id = 2 AND region = 330108", []).unwrap();
        assert!(differences(&conn).unwrap() > 0);
        refresh(&conn, 2).unwrap();
        assert_eq!(differences(&conn).unwrap(), 0);
        assert_eq!(places(&conn, 2).len(), 3);
        conn.execute("DELETE FROM activity_places", []).unwrap();
        assert_eq!(differences(&conn).unwrap(), 12, "four activities of three rows each are missing");
        rebuild(&conn).unwrap();
        assert_eq!(differences(&conn).unwrap(), 0);
    }
}
