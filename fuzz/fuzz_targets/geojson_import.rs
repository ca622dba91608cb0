//! One boundary file through what `anxu geodata import` does with it: `geo::parse_boundary` (JSON, GeoJSON structure,
//! validation against `Limits`), then the layer simplification (`simplify_layer`) and the output writer
//! (`feature_collection`); a layer the importer writes must read back with `Shapes::parse`, as the map does.
#![no_main]

use anxu_fuzz::geo::shapes::Shapes;
use anxu_fuzz::geo::{
    DEFAULT_TOLERANCE, Feature, GeoError, Limits, feature_collection, parse_boundary, raw_polygons, simplify_layer,
    validate_polygons,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let china = Limits::default();
    let world = Limits { china: false, ..china };
    let strict = parse_boundary(data, &china);
    let loose = parse_boundary(data, &world);
    match (&strict, &loose) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Ok(_), Err(e)) => panic!("accepted within China but refused worldwide: {e}"),
        (Err(GeoError::OutsideChina { .. }), _) | (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => panic!("refused within China for another reason than the area: {e}"),
    }
    let Ok(shape) = loose else { return };
    assert_eq!(validate_polygons(&raw_polygons(&shape), &world), Ok(()));
    let (simplified, _) = simplify_layer(std::slice::from_ref(&shape), DEFAULT_TOLERANCE);
    let [geometry] = simplified.as_slice() else { panic!("one region in, {} out", simplified.len()) };
    let feature = Feature { adcode: 330106, name: "西湖区", level: "county", parent: Some(330100), geometry };
    let Ok((text, _)) = feature_collection(&[feature]) else { return };
    if strict.is_ok() {
        if let Err(e) = Shapes::parse(&[&text]) {
            panic!("the importer wrote a layer the map cannot read: {e}\n{text}");
        }
    }
});
