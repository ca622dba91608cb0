//! Regions: province → city → county, named by their GB/T 2260 six-digit codes (adcodes).

use std::collections::BTreeMap;
use std::fmt;

use super::FieldError;

/// A GB/T 2260 administrative division code, six digits, e.g. 330106 (西湖区).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Adcode(u32);

impl Adcode {
    /// Parses six ASCII digits, the first not zero.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) || raw.starts_with('0') {
            return None;
        }
        raw.parse().ok().map(Adcode)
    }

    /// The code as a number, for storage.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Rebuilds a code read back from storage; `None` when it is not six digits.
    pub fn from_stored(value: i64) -> Option<Self> {
        (100_000..=999_999).contains(&value).then_some(Adcode(value as u32))
    }
}

impl fmt::Display for Adcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// The level of a region in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RegionLevel {
    /// 省
    Province,
    /// 设区的市
    City,
    /// 县、县级市、市辖区
    County,
}

impl RegionLevel {
    /// The code used in files and storage.
    pub fn code(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::County => "county",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "province" => Some(Self::Province),
            "city" => Some(Self::City),
            "county" => Some(Self::County),
            _ => None,
        }
    }

    /// The police level that decides at this region, e.g. 县级公安机关.
    pub fn bureau_label(self) -> &'static str {
        match self {
            Self::Province => "省级公安机关",
            Self::City => "市级公安机关",
            Self::County => "县级公安机关",
        }
    }
}

/// One region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Its code.
    pub adcode: Adcode,
    /// Its name, e.g. 西湖区.
    pub name: String,
    /// Its level.
    pub level: RegionLevel,
    /// The region it belongs to; `None` for the province.
    pub parent: Option<Adcode>,
}

/// A problem in a regions file, with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("regions file, line {line}: {message}")]
pub struct RegionFileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The province's region tree. Invariant: exactly one province is the root; every other region's parent exists and
/// is one level up.
#[derive(Debug, Clone)]
pub struct RegionTree {
    regions: BTreeMap<Adcode, Region>,
    root: Adcode,
}

impl RegionTree {
    /// Parses the CSV of `geodata/regions.csv`: header `adcode,name,level,parent_adcode`.
    pub fn parse_csv(text: &str) -> Result<Self, RegionFileError> {
        let err = |line: usize, message: String| RegionFileError { line, message };
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.trim().trim_start_matches('\u{feff}') == "adcode,name,level,parent_adcode" => {}
            _ => return Err(err(1, "expected the header adcode,name,level,parent_adcode".into())),
        }
        let mut regions = BTreeMap::new();
        for (i, line) in lines {
            let n = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            let [code, name, level, parent] = cols[..] else {
                return Err(err(n, format!("expected 4 columns, found {}", cols.len())));
            };
            let adcode = Adcode::parse(code).ok_or_else(|| err(n, format!("bad adcode {code:?}")))?;
            let level = RegionLevel::parse(level).ok_or_else(|| err(n, format!("bad level {level:?}")))?;
            if name.is_empty() || name.chars().count() > 32 {
                return Err(err(n, "name must have 1 to 32 characters".into()));
            }
            let parent = match parent {
                "" => None,
                p => Some(Adcode::parse(p).ok_or_else(|| err(n, format!("bad parent adcode {p:?}")))?),
            };
            let region = Region { adcode, name: name.to_string(), level, parent };
            if regions.insert(adcode, region).is_some() {
                return Err(err(n, format!("adcode {adcode} appears twice")));
            }
        }
        let roots: Vec<Adcode> = regions.values().filter(|r| r.parent.is_none()).map(|r| r.adcode).collect();
        let [root] = roots[..] else {
            return Err(err(1, format!("expected exactly one region without parent, found {}", roots.len())));
        };
        for r in regions.values() {
            let expected_parent_level = match r.level {
                RegionLevel::Province if r.parent.is_none() => continue,
                RegionLevel::Province => None,
                RegionLevel::City => Some(RegionLevel::Province),
                RegionLevel::County => Some(RegionLevel::City),
            };
            let parent_level = r.parent.and_then(|p| regions.get(&p)).map(|p| p.level);
            if parent_level.is_none() || parent_level != expected_parent_level {
                return Err(err(1, format!("region {} ({}) has a missing or wrong-level parent", r.adcode, r.name)));
            }
        }
        if regions[&root].level != RegionLevel::Province {
            return Err(err(1, "the region without parent must be a province".into()));
        }
        Ok(Self { regions, root })
    }

    /// The province.
    pub fn root(&self) -> &Region {
        &self.regions[&self.root]
    }

    /// The region of `adcode`, if it is in the tree.
    pub fn get(&self, adcode: Adcode) -> Option<&Region> {
        self.regions.get(&adcode)
    }

    /// All regions, ordered by code.
    pub fn all(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    /// The direct children of `adcode`, ordered by code.
    pub fn children(&self, adcode: Adcode) -> impl Iterator<Item = &Region> {
        self.regions.values().filter(move |r| r.parent == Some(adcode))
    }

    /// True when `inner` is `outer` or lies below it.
    pub fn is_within(&self, inner: Adcode, outer: Adcode) -> bool {
        let mut cur = Some(inner);
        while let Some(code) = cur {
            if code == outer {
                return true;
            }
            cur = self.regions.get(&code).and_then(|r| r.parent);
        }
        false
    }

    /// `adcode` and every region below it, in tree order (a region before its children).
    pub fn subtree(&self, adcode: Adcode) -> Vec<&Region> {
        let mut out = Vec::new();
        if let Some(r) = self.get(adcode) {
            out.push(r);
            for child in self.children(adcode) {
                out.extend(self.subtree(child.adcode));
            }
        }
        out
    }

    /// From the province down to `adcode`.
    pub fn path(&self, adcode: Adcode) -> Vec<&Region> {
        let mut out = Vec::new();
        let mut cur = self.get(adcode);
        while let Some(r) = cur {
            out.push(r);
            cur = r.parent.and_then(|p| self.get(p));
        }
        out.reverse();
        out
    }

    /// The storage path used for scoping in SQL: `/330000/330100/330106/`.
    pub fn path_key(&self, adcode: Adcode) -> String {
        let mut s = String::from("/");
        for r in self.path(adcode) {
            s.push_str(&r.adcode.to_string());
            s.push('/');
        }
        s
    }

    /// The full name, e.g. 浙江省杭州市西湖区; the code itself when unknown.
    pub fn full_name(&self, adcode: Adcode) -> String {
        let path = self.path(adcode);
        if path.is_empty() {
            return adcode.to_string();
        }
        path.iter().map(|r| r.name.as_str()).collect()
    }

    /// The short name, e.g. 西湖区; the code itself when unknown.
    pub fn name(&self, adcode: Adcode) -> String {
        self.get(adcode).map_or_else(|| adcode.to_string(), |r| r.name.clone())
    }

    /// Parses a form's region field and checks that it lies within `scope`.
    pub fn parse_within(&self, field: &'static str, raw: &str, scope: Adcode) -> Result<Adcode, FieldError> {
        let code = Adcode::parse(raw)
            .filter(|c| self.get(*c).is_some())
            .ok_or_else(|| FieldError::new(field, "请选择有效的地区"))?;
        if !self.is_within(code, scope) {
            return Err(FieldError::new(field, "只能选择本地区及下级地区"));
        }
        Ok(code)
    }
}

/// The default regions: 浙江省, its cities and counties (see `geodata/README.md`).
pub const DEFAULT_REGIONS_CSV: &str = include_str!("../../geodata/regions.csv");

#[cfg(test)]
mod tests {
    use super::*;

    fn zj() -> RegionTree {
        RegionTree::parse_csv(DEFAULT_REGIONS_CSV).unwrap()
    }

    fn code(s: &str) -> Adcode {
        Adcode::parse(s).unwrap()
    }

    #[test]
    fn default_file_is_zhejiang_today() {
        let t = zj();
        assert_eq!(t.root().name, "浙江省");
        assert_eq!(t.children(t.root().adcode).count(), 11);
        let counties = t.all().filter(|r| r.level == RegionLevel::County).count();
        assert_eq!(counties, 90);
        for (c, name) in [("330113", "临平区"), ("330114", "钱塘区"), ("330383", "龙港市")] {
            assert_eq!(t.get(code(c)).unwrap().name, name);
        }
    }

    #[test]
    fn within_and_paths() {
        let t = zj();
        assert!(t.is_within(code("330106"), code("330100")));
        assert!(t.is_within(code("330106"), code("330000")));
        assert!(t.is_within(code("330100"), code("330100")));
        assert!(!t.is_within(code("330100"), code("330106")));
        assert!(!t.is_within(code("330203"), code("330100")));
        assert_eq!(t.path_key(code("330106")), "/330000/330100/330106/");
        assert_eq!(t.full_name(code("330106")), "浙江省杭州市西湖区");
        assert_eq!(t.subtree(code("330100")).len(), 14);
    }

    #[test]
    fn adcode_parsing() {
        for bad in ["", "33010", "3301061", "03010a", "abcdef", "012345", "33 106"] {
            assert!(Adcode::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(code("330106").to_string(), "330106");
    }

    #[test]
    fn malformed_files_name_their_line() {
        let check = |text: &str, line: usize| {
            let e = RegionTree::parse_csv(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        };
        check("", 1);
        check("adcode,name,level,parent_adcode\n330000,浙江省,province\n", 2);
        check("adcode,name,level,parent_adcode\n330000,浙江省,province,\n33010x,杭州市,city,330000\n", 3);
        check("adcode,name,level,parent_adcode\n330000,浙江省,province,\n330100,杭州市,town,330000\n", 3);
        check("adcode,name,level,parent_adcode\n330000,浙江省,province,\n330000,浙江省,province,\n", 3);
        check("adcode,name,level,parent_adcode\n330000,浙江省,province,\n330106,西湖区,county,330000\n", 1);
    }
}
