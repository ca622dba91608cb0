//! Pure rules of the domain: regions, users, roles, security policy.
//!
//! Nothing here does IO or knows about HTTP, HTML or DuckDB. Raw input becomes a domain value through a `parse`
//! function that either returns the value or a [`FieldError`] with a Chinese message fit for a form.

pub mod activity;
pub mod calendar;
pub mod region;
pub mod role;
pub mod scale;
pub mod security;
pub mod sms;
pub mod text;
pub mod user;
pub mod workflow;

/// A problem with one input field, with a message in Chinese for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The form field's name, e.g. `login_name`.
    pub field: &'static str,
    /// What is wrong, in Chinese.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// All field problems of one form submission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Records the error of `result`, if any, and returns its value.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Adds one error.
    pub fn push(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// The first message for `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    /// True when there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<FieldError> for FieldErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}
