//! Intranet users: their types, what each type may do, and the fields an administrator enters.

use super::FieldError;

/// The kinds of intranet user (seed 7.3). Every user has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserType {
    /// 系统管理员: configures its region and those below; never approves.
    SystemAdmin,
    /// 审批人员: approves; holds an approval role; no configuration.
    Approver,
    /// 指挥员: reads the situation map.
    Commander,
    /// 分析员: reads statistics.
    Analyst,
    /// 审计管理员: reads the audit log only.
    AuditAdmin,
    /// 安全管理员: owns the security policy (password rule, lock-out, session lifetimes) and unlocks locked
    /// accounts; nothing else.
    SecurityAdmin,
    /// 承办方 (portal only): applies for permits.
    Organizer,
    /// 政府单位 (portal only): files the activities it runs itself.
    GovernmentUnit,
}

/// Something a user may do; pages and actions ask for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// 用户配置
    ManageUsers,
    /// 角色配置
    ManageRoles,
    /// Read the audit log (audit administrators only).
    ReadAudit,
    /// 安全策略 and unlocking locked accounts (security administrators only).
    ManageSecurity,
    /// 许可管理: see applications of the region (approvers and administrators).
    ViewPermits,
    /// Act on applications: pre-review, acceptance, approval steps, surveys, inspections.
    Approve,
    /// 流程配置, 节假日配置 (the scale rules additionally need the province).
    ConfigureWorkflow,
    /// 消息管理: SMS templates.
    ManageSms,
    /// 结果导出: export result bundles, import application bundles, manage exchange keys.
    Exchange,
    /// Portal: apply for permits (organizers).
    Apply,
    /// Portal: file own activities (government units).
    File,
    /// Portal: read one's notifications (organizers and government units).
    Notifications,
    /// 地图势态: the situation map (commanders).
    ViewMap,
    /// 统计中心: statistics and their Excel exports (analysts).
    ViewStatistics,
}

impl UserType {
    /// Every type, in the order forms list them.
    pub const ALL: [UserType; 6] =
        [Self::SystemAdmin, Self::Approver, Self::Commander, Self::Analyst, Self::SecurityAdmin, Self::AuditAdmin];

    /// The portal's account types.
    pub const PORTAL: [UserType; 2] = [Self::Organizer, Self::GovernmentUnit];

    /// Reads a stored code of any type, intranet or portal.
    pub fn from_stored(code: &str) -> Option<Self> {
        Self::ALL.into_iter().chain(Self::PORTAL).find(|t| t.code() == code)
    }

    /// The code used in storage and forms.
    pub fn code(self) -> &'static str {
        match self {
            Self::SystemAdmin => "system_admin",
            Self::Approver => "approver",
            Self::Commander => "commander",
            Self::Analyst => "analyst",
            Self::AuditAdmin => "audit_admin",
            Self::SecurityAdmin => "security_admin",
            Self::Organizer => "organizer",
            Self::GovernmentUnit => "government_unit",
        }
    }

    /// The Chinese name.
    pub fn label(self) -> &'static str {
        match self {
            Self::SystemAdmin => "系统管理员",
            Self::Approver => "审批人员",
            Self::Commander => "指挥员",
            Self::Analyst => "分析员",
            Self::AuditAdmin => "审计管理员",
            Self::SecurityAdmin => "安全管理员",
            Self::Organizer => "承办方",
            Self::GovernmentUnit => "政府单位",
        }
    }

    /// What the type is for, shown on the home page and in the README.
    pub fn duties(self) -> &'static str {
        match self {
            Self::SystemAdmin => {
                "管理本地区及下级地区的用户和审批角色；不参与审批，不能修改安全策略、查阅审计日志，也不能管理安全管理员和审计管理员的账号。"
            }
            Self::Approver => "按所持审批角色办理活动的初审、受理和审批；无系统配置权限。",
            Self::Commander => "查看地图势态（只读）。",
            Self::Analyst => "查看统计中心并导出报表（只读）。",
            Self::AuditAdmin => "查阅审计日志（只读），不能修改任何数据。",
            Self::SecurityAdmin => {
                "管理安全策略（密码规则、登录失败锁定、会话时长），解锁被锁定的账号；不能管理用户，不能查阅审计日志。"
            }
            Self::Organizer => "在外网申请大型群众性活动安全许可、上传材料、答复整改意见、查看结果。",
            Self::GovernmentUnit => "在外网报备本单位举办的活动。",
        }
    }

    /// Parses an intranet user form's type (portal types are refused).
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|t| t.code() == raw.trim())
            .ok_or_else(|| FieldError::new("user_type", "请选择有效的用户类型"))
    }

    /// Whether users of this type may do `p`.
    pub fn can(self, p: Permission) -> bool {
        match p {
            Permission::ManageUsers | Permission::ManageRoles => self == Self::SystemAdmin,
            Permission::ReadAudit => self == Self::AuditAdmin,
            Permission::ManageSecurity => self == Self::SecurityAdmin,
            Permission::ViewPermits => matches!(self, Self::SystemAdmin | Self::Approver),
            Permission::Approve => self == Self::Approver,
            Permission::ConfigureWorkflow | Permission::ManageSms | Permission::Exchange => self == Self::SystemAdmin,
            Permission::Apply => self == Self::Organizer,
            Permission::File => self == Self::GovernmentUnit,
            Permission::Notifications => matches!(self, Self::Organizer | Self::GovernmentUnit),
            Permission::ViewMap => self == Self::Commander,
            Permission::ViewStatistics => self == Self::Analyst,
        }
    }

    /// Whether an administrator of this type may create, modify, freeze or unfreeze users of type `other`. The three
    /// administrators stay apart: the system administrator manages system administrators and the business types,
    /// never a security or audit administrator (those are created at start-up, see `setup::bootstrap_officers`), so
    /// it cannot make itself an account that reads the audit log or changes the security policy.
    pub fn manages(self, other: UserType) -> bool {
        self == Self::SystemAdmin && !matches!(other, Self::SecurityAdmin | Self::AuditAdmin)
    }

    /// Whether users of this type must hold an approval role.
    pub fn needs_approval_role(self) -> bool {
        self == Self::Approver
    }
}

/// A login name: 3 to 32 characters of ASCII letters, digits, `_`, `.` and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginName(String);

impl LoginName {
    /// Parses a form value.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let v = raw.trim();
        let field = "login_name";
        if v.is_empty() {
            return Err(FieldError::new(field, "请填写登录用户名"));
        }
        if !(3..=32).contains(&v.chars().count()) {
            return Err(FieldError::new(field, "登录用户名长度应为 3 到 32 个字符"));
        }
        if !v.starts_with(|c: char| c.is_ascii_alphabetic())
            || !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(FieldError::new(field, "登录用户名只能包含英文字母、数字、下划线、点和减号，并以字母开头"));
        }
        Ok(Self(v.to_ascii_lowercase()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mainland mobile number: 11 digits starting 13–19.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobile(String);

impl Mobile {
    /// Parses a form value; spaces and dashes are ignored.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.is_empty() {
            return Err(FieldError::new("mobile", "请填写手机号码"));
        }
        let b = digits.as_bytes();
        if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) || b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
            return Err(FieldError::new("mobile", "手机号码应为 11 位数字，以 13–19 开头"));
        }
        Ok(Self(digits))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The data of a user as an administrator enters it (without the password).
#[derive(Debug, Clone)]
pub struct UserProfile {
    /// 真实名称
    pub real_name: String,
    /// 所属地区
    pub region: super::region::Adcode,
    /// 手机
    pub mobile: Mobile,
    /// 用户类型
    pub user_type: UserType,
    /// 审批角色, present exactly when the type needs one.
    pub approval_role: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names() {
        for (raw, ok) in [
            ("zhangsan", true),
            ("Zhang.San-01", true),
            ("ab", false),
            ("1abc", false),
            ("张三丰", false),
            ("a<script>", false),
            ("", false),
            (&"a".repeat(33), false),
        ] {
            assert_eq!(LoginName::parse(raw).is_ok(), ok, "{raw:?}");
        }
        assert_eq!(LoginName::parse(" ZhangSan ").unwrap().as_str(), "zhangsan");
    }

    #[test]
    fn mobiles() {
        for (raw, ok) in [
            ("13800138000", true),
            ("138-0013-8000", true),
            ("12800138000", false),
            ("1380013800", false),
            ("138001380000", false),
            ("1380013800a", false),
            ("", false),
        ] {
            assert_eq!(Mobile::parse(raw).is_ok(), ok, "{raw:?}");
        }
    }

    #[test]
    fn permissions() {
        assert!(UserType::SystemAdmin.can(Permission::ManageUsers));
        assert!(!UserType::Approver.can(Permission::ManageUsers));
        assert!(!UserType::SystemAdmin.can(Permission::ReadAudit));
        assert!(UserType::AuditAdmin.can(Permission::ReadAudit));
        assert!(!UserType::SystemAdmin.can(Permission::ManageSecurity));
        assert!(!UserType::AuditAdmin.can(Permission::ManageSecurity));
        assert!(UserType::SecurityAdmin.can(Permission::ManageSecurity));
        assert!(!UserType::SecurityAdmin.can(Permission::ReadAudit));
        assert!(!UserType::SecurityAdmin.can(Permission::ManageUsers));
        assert!(UserType::SystemAdmin.manages(UserType::Approver));
        assert!(UserType::SystemAdmin.manages(UserType::SystemAdmin));
        assert!(!UserType::SystemAdmin.manages(UserType::SecurityAdmin));
        assert!(!UserType::SystemAdmin.manages(UserType::AuditAdmin));
        assert!(!UserType::SecurityAdmin.manages(UserType::Approver));
        for t in UserType::ALL {
            assert_eq!(UserType::parse(t.code()), Ok(t));
        }
        assert!(UserType::parse("root").is_err());
    }

    #[test]
    fn no_type_holds_two_administrator_duties() {
        let duties = [Permission::ManageUsers, Permission::ManageSecurity, Permission::ReadAudit];
        for t in UserType::ALL.into_iter().chain(UserType::PORTAL) {
            let held = duties.iter().filter(|p| t.can(**p)).count();
            assert!(held <= 1, "{t:?} holds {held} administrator duties");
        }
        for (t, p) in [
            (UserType::SystemAdmin, Permission::ManageUsers),
            (UserType::SecurityAdmin, Permission::ManageSecurity),
            (UserType::AuditAdmin, Permission::ReadAudit),
        ] {
            assert!(t.can(p), "{t:?}");
        }
        assert_eq!(UserType::from_stored("security_admin"), Some(UserType::SecurityAdmin));
    }
}
