//! Search criteria for `GET /crm/v8/{module}/search`, with Zoho's escaping.
//!
//! Criteria look like `((Email:equals:a@b.c)and(Last_Name:starts_with:O\(Brien\)))`.
//! Inside a value, `(`, `)`, `,` and `\` must be escaped with a backslash or the query
//! breaks (or worse, matches something else); the whole string is then URL-encoded by
//! the transport. Building criteria through [`Criteria`] makes every value round-trip.

use std::fmt;

/// A comparison operator of CRM search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `equals` (on text fields Zoho treats it like *contains*).
    Equals,
    /// `not_equal`.
    NotEqual,
    /// `starts_with`.
    StartsWith,
    /// `in` (up to 100 values).
    In,
    /// `greater_than`.
    GreaterThan,
    /// `greater_equal`.
    GreaterEqual,
    /// `less_than`.
    LessThan,
    /// `less_equal`.
    LessEqual,
    /// `between` (two values).
    Between,
}

impl Operator {
    /// Zoho's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEqual => "not_equal",
            Operator::StartsWith => "starts_with",
            Operator::In => "in",
            Operator::GreaterThan => "greater_than",
            Operator::GreaterEqual => "greater_equal",
            Operator::LessThan => "less_than",
            Operator::LessEqual => "less_equal",
            Operator::Between => "between",
        }
    }
}

/// A criteria expression: a condition, or conditions joined with `and` / `or`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criteria {
    /// `(field:operator:value[,value…])`.
    Condition {
        /// Field API name.
        field: String,
        /// Operator.
        operator: Operator,
        /// One value, or several for `in` / `between`.
        values: Vec<String>,
    },
    /// All of these.
    And(Vec<Criteria>),
    /// Any of these.
    Or(Vec<Criteria>),
}

/// Escapes one value: a backslash before `\`, `(`, `)` and `,`.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if matches!(c, '\\' | '(' | ')' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Criteria {
    /// A condition with one value.
    pub fn condition(field: impl Into<String>, operator: Operator, value: impl Into<String>) -> Criteria {
        Criteria::Condition { field: field.into(), operator, values: vec![value.into()] }
    }

    /// `field equals value`.
    pub fn equals(field: impl Into<String>, value: impl Into<String>) -> Criteria {
        Criteria::condition(field, Operator::Equals, value)
    }

    /// `field starts_with value`.
    pub fn starts_with(field: impl Into<String>, value: impl Into<String>) -> Criteria {
        Criteria::condition(field, Operator::StartsWith, value)
    }

    /// `field in (values…)`.
    pub fn is_in<I, S>(field: impl Into<String>, values: I) -> Criteria
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Criteria::Condition { field: field.into(), operator: Operator::In, values: values.into_iter().map(Into::into).collect() }
    }

    /// `field between low and high`.
    pub fn between(field: impl Into<String>, low: impl Into<String>, high: impl Into<String>) -> Criteria {
        Criteria::Condition { field: field.into(), operator: Operator::Between, values: vec![low.into(), high.into()] }
    }

    /// `self and other`.
    pub fn and(self, other: Criteria) -> Criteria {
        match self {
            Criteria::And(mut all) => {
                all.push(other);
                Criteria::And(all)
            }
            first => Criteria::And(vec![first, other]),
        }
    }

    /// `self or other`.
    pub fn or(self, other: Criteria) -> Criteria {
        match self {
            Criteria::Or(mut any) => {
                any.push(other);
                Criteria::Or(any)
            }
            first => Criteria::Or(vec![first, other]),
        }
    }

    /// Number of conditions (Zoho allows 10).
    pub fn conditions(&self) -> usize {
        match self {
            Criteria::Condition { .. } => 1,
            Criteria::And(c) | Criteria::Or(c) => c.iter().map(Criteria::conditions).sum(),
        }
    }
}

impl fmt::Display for Criteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Criteria::Condition { field, operator, values } => {
                let values: Vec<String> = values.iter().map(|v| escape(v)).collect();
                write!(f, "({}:{}:{})", field, operator.as_str(), values.join(","))
            }
            Criteria::And(parts) | Criteria::Or(parts) => {
                let joiner = if matches!(self, Criteria::And(_)) { "and" } else { "or" };
                if parts.len() == 1 {
                    return write!(f, "{}", parts[0]);
                }
                f.write_str("(")?;
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(joiner)?;
                    }
                    write!(f, "{p}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_escapes() {
        let c = Criteria::equals("Email", r"o(b),x\y@z.com").and(Criteria::starts_with("Last_Name", "O'Neil \"Q\""));
        assert_eq!(c.to_string(), r#"((Email:equals:o\(b\)\,x\\y@z.com)and(Last_Name:starts_with:O'Neil "Q"))"#);
        assert_eq!(Criteria::is_in("Stage", ["A,B", "C"]).to_string(), r"(Stage:in:A\,B,C)");
        assert_eq!(c.conditions(), 2);
    }
}
