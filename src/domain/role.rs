//! Approval roles 审批角色 (seed 7.1): the names flow steps and approvers share, e.g. 科员, 科长, 分管局长.

use super::FieldError;
use super::text::{parse_name, parse_note};

/// A role as an administrator enters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInput {
    /// 角色名称
    pub name: String,
    /// 说明
    pub description: String,
}

impl RoleInput {
    /// Parses the form fields.
    pub fn parse(name: &str, description: &str) -> Result<Self, Vec<FieldError>> {
        let name = parse_name("name", "角色名称", name, 20);
        let description = parse_note("description", "说明", description, 200);
        match (name, description) {
            (Ok(name), Ok(description)) => Ok(Self { name, description }),
            (name, description) => Err([name.err(), description.err()].into_iter().flatten().collect()),
        }
    }
}
