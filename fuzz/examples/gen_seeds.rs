//! Writes the seed corpora into `corpus/<target>/` (run from the fuzz directory: `cargo run --example gen_seeds`):
//! valid bundles signed with the fixed test key, small boundary files cut from `../geodata`, tiny file headers.
//! The kept corpora are these seeds plus what the fuzzer found, minimised with `-merge=1` (see run.sh).

use std::path::Path;

use anxu_fuzz::exchange::{BundleBuilder, Channel, bundle_hash};
use anxu_fuzz::harness::key;
use serde_json::{Value, json};

const WHEN: &str = "2025-05-01T08:00:00Z";

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new("corpus").join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn bundles() -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let key = key();
    let when = WHEN.parse()?;
    let mut out = Vec::new();

    let empty = BundleBuilder::new(Channel::Results, 1, None);
    out.push(("results-empty", empty.finish(&key, when)));

    let application = json!({
        "applications": [{
            "portal_ref": "P2025-0001",
            "event": "submit",
            "at": WHEN,
            "application": {
                "name": "西湖音乐节",
                "kind": "concert",
                "organizer": {
                    "credit_code": "91330106MA2XXXXX0X",
                    "name": "杭州某文化公司",
                    "contact_name": "张三",
                    "contact_mobile": "13800000000"
                },
                "regions": [330106],
                "venues": [{
                    "name": "西湖文化广场",
                    "region": 330106,
                    "address": "西湖区某路1号",
                    "lon": 120.16,
                    "lat": 30.27,
                    "capacity": 8000
                }],
                "start_at": "2025-06-01T19:00:00",
                "end_at": "2025-06-01T22:00:00",
                "sessions": 1,
                "attendance": 6000,
                "contact_name": "李四",
                "contact_mobile": "13900000000",
                "materials": [{ "kind": "plan", "file": "m1.pdf", "name": "安全工作方案.pdf" }],
                "assessments": [{
                    "agency": "某风评机构",
                    "risk_grade": "低",
                    "report": { "kind": "risk_assessment", "file": "m2.png", "name": "评估报告.png" }
                }]
            }
        }],
        "feedback": [{ "portal_ref": "P2025-0001", "rectification_id": 7, "feedback": "已整改" }],
        "filings": []
    });
    let mut b = BundleBuilder::new(Channel::Applications, 3, Some(bundle_hash(b"two")));
    b.add_file("records.json", &serde_json::to_vec(&application)?)?
        .add_file("m1.pdf", b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?
        .add_file("m2.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")?
        .add_file("empty.txt", b"")?;
    out.push(("applications-records", b.finish(&key, when)));

    let results = json!({
        "results": [{
            "result_id": 12,
            "portal_ref": "P2025-0001",
            "kind": "approval",
            "action": "approve",
            "status": "approved",
            "opinion": "同意",
            "sms": "您的申请已批准",
            "mobile": "13800000000",
            "document": ["d12.html", "浙公许〔2025〕12号"],
            "rectifications": [[7, "补充疏散方案"]],
            "decided_at": WHEN
        }]
    });
    let mut b = BundleBuilder::new(Channel::Results, 2, Some(bundle_hash(b"one")));
    b.add_file("records.json", &serde_json::to_vec(&results)?)?
        .add_file("d12.html", b"<!DOCTYPE html><html><body>\xE5\x87\x86</body></html>")?;
    out.push(("results-records", b.finish(&key, when)));

    let binary: Vec<u8> = (0..=255).collect();
    let mut b = BundleBuilder::new(Channel::Applications, 1, None);
    b.add_file("a", b"xyz")?.add_file("b.bin", &binary)?.add_file("-x_y.z", b"1")?;
    out.push(("applications-binary", b.finish(&key, when)));
    Ok(out)
}

/// The smallest features of the county layer, each as a Feature, as a one-feature FeatureCollection and as a bare
/// geometry.
fn boundaries() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let text = std::fs::read_to_string("../geodata/zhejiang-counties.geojson")?;
    let layer: Value = serde_json::from_str(&text)?;
    let mut features: Vec<Value> = layer["features"].as_array().cloned().unwrap_or_default();
    features.sort_by_key(|f| f.to_string().len());
    let mut out = Vec::new();
    for (i, f) in features.iter().take(3).enumerate() {
        out.push((format!("feature-{i}.geojson"), serde_json::to_vec(f)?));
    }
    if let Some(f) = features.get(3) {
        let fc = json!({ "type": "FeatureCollection", "features": [f] });
        out.push(("collection.geojson".into(), serde_json::to_vec(&fc)?));
    }
    if let Some(f) = features.get(4) {
        out.push(("geometry.geojson".into(), serde_json::to_vec(&f["geometry"])?));
    }
    let square = json!({
        "type": "Polygon",
        "coordinates": [
            [[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1], [120.0, 30.0]],
            [[120.02, 30.02], [120.02, 30.05], [120.05, 30.05], [120.02, 30.02]]
        ]
    });
    out.push(("square-with-hole.geojson".into(), serde_json::to_vec(&square)?));
    let two = json!({
        "type": "Feature",
        "properties": { "name": "两块" },
        "geometry": { "type": "MultiPolygon", "coordinates": [
            [[[121.0, 29.0, 5.0], [121.2, 29.0], [121.1, 29.2], [121.0, 29.0, 5.0]]],
            [[[121.2, 29.0], [121.4, 29.0], [121.3, 29.2], [121.2, 29.0]]]
        ]}
    });
    out.push(("two-touching.geojson".into(), serde_json::to_vec(&two)?));
    Ok(out)
}

/// `flags, name length, name, content`: see fuzz_targets/upload_check.rs.
fn uploads() -> Vec<(&'static str, Vec<u8>)> {
    let cases: [(&str, u8, &str, &[u8]); 7] = [
        ("pdf", 0, "方案.pdf", b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n"),
        ("png", 0, "../图.PNG", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01"),
        ("jpg", 0, "C:\\photos\\a.jpg", b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"),
        ("jpeg", 0, "<x>.jpeg", b"\xFF\xD8\xFF\xDB\0\x43\0"),
        ("docx", 0, "a.docx", b"PK\x03\x04\x14\0\x06\0"),
        ("xlsx", 0, ".xlsx", b"PK\x03\x04\x14\0\x08\0"),
        ("html", 1, "d1.html", b"<!DOCTYPE html><html></html>"),
    ];
    cases
        .into_iter()
        .map(|(label, flags, name, content)| {
            let mut bytes = vec![flags, name.len() as u8];
            bytes.extend_from_slice(name.as_bytes());
            bytes.extend_from_slice(content);
            (label, bytes)
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    for (name, bytes) in bundles()? {
        write("bundle_read", &format!("{name}.bundle"), &bytes)?;
        write("bundle_signed", &format!("{name}.bundle"), &bytes)?;
    }
    let key = key();
    write("bundle_read", "public-key.hex", key.public().to_hex().as_bytes())?;
    write("bundle_read", "secret-key.hex", key.secret_hex().as_bytes())?;
    for (name, bytes) in boundaries()? {
        write("geojson_import", &name, &bytes)?;
    }
    for (name, bytes) in uploads() {
        write("upload_check", &format!("{name}.upload"), &bytes)?;
    }
    Ok(())
}
