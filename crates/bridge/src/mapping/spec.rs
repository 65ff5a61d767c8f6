//! The mapping part of a flow's config section, as written in the TOML file, and the
//! overlay of a user's section on a flow's shipped defaults.
//!
//! Expressions are kept as `toml::Spanned<String>` so a compile error can point at the
//! byte of the config file where the fault is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The mapping part of a `[flows.<name>]` section, as deserialized by serde from the
/// TOML file.
///
/// ```toml
/// when = 'present(source.Product_Name)'
/// optional = ["sku"]
/// [map]
/// name = 'text(source.Product_Name)'
/// sku = 'text(source.Product_Code)'
/// [defaults]
/// description = ""
/// ```
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingSpec {
    /// Filter: the record is skipped (with a reason naming this condition) when it is
    /// `false` or gives no value. Absent or empty: every record passes.
    pub when: Option<Spanned<String>>,
    /// Target field = expression.
    pub map: BTreeMap<String, Spanned<String>>,
    /// Value used when a field's expression gives no value (unit `()`). A default for a
    /// field with no expression in `map` is a constant: the field always has it.
    pub defaults: BTreeMap<String, toml::Value>,
    /// Fields simply omitted when their expression gives no value (and there is no
    /// default).
    pub optional: Vec<String>,
    /// Line items: one set of expressions applied to each element of an array.
    pub lines: Option<LinesSpec>,
}

/// The `lines` part of a mapping: `from` gives an array (say the deal's products), and
/// `map` is evaluated once per element with `line` (the element) and `index` (from 0)
/// in scope; the results form the array `target` of the payload.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinesSpec {
    /// Expression giving the array of elements (`()` gives no lines).
    pub from: Spanned<String>,
    /// Payload field that receives the array of line objects, e.g. `"line_items"`.
    pub target: String,
    /// Line field = expression.
    pub map: BTreeMap<String, Spanned<String>>,
    /// Value used when a line field's expression gives no value.
    pub defaults: BTreeMap<String, toml::Value>,
    /// Line fields omitted when their expression gives no value.
    pub optional: Vec<String>,
}

impl Default for LinesSpec {
    fn default() -> Self {
        LinesSpec { from: Spanned::new(0..0, String::new()), target: String::new(), map: BTreeMap::new(), defaults: BTreeMap::new(), optional: Vec::new() }
    }
}

/// Lookup tables, `[tables.<name>]` in the config: table name -> key -> value.
pub type Tables = BTreeMap<String, BTreeMap<String, toml::Value>>;

/// A map, its defaults and its optional list, as overlaid together.
type FieldSet = (BTreeMap<String, Spanned<String>>, BTreeMap<String, toml::Value>, Vec<String>);

/// Overlays the user's map, defaults and optional list on the shipped ones.
///
/// A user entry replaces or adds per key; a user map entry whose expression is empty
/// removes the field, and with it the shipped default for that field (unless the user
/// gives a default too), so the removed field does not come back as a constant.
fn overlay_fields(
    base_map: &BTreeMap<String, Spanned<String>>,
    base_defaults: &BTreeMap<String, toml::Value>,
    base_optional: &[String],
    user_map: &BTreeMap<String, Spanned<String>>,
    user_defaults: &BTreeMap<String, toml::Value>,
    user_optional: &[String],
) -> FieldSet {
    let mut map = base_map.clone();
    let mut defaults = base_defaults.clone();
    for (field, expression) in user_map {
        if expression.get_ref().trim().is_empty() {
            map.remove(field);
            if !user_defaults.contains_key(field) {
                defaults.remove(field);
            }
        } else {
            map.insert(field.clone(), expression.clone());
        }
    }
    defaults.extend(user_defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut optional = base_optional.to_vec();
    for field in user_optional {
        if !optional.contains(field) {
            optional.push(field.clone());
        }
    }
    (map, defaults, optional)
}

impl MappingSpec {
    /// `self` (a flow's shipped defaults) overlaid by `user` field by field: the user's
    /// `when` replaces (an empty one removes the filter); map/defaults entries replace
    /// or add per key; `optional` is the union; a user map entry whose expression is the
    /// empty string removes that field; `lines` overlay the same way (a non-empty user
    /// `from`/`target` replaces the shipped one).
    pub fn overlay(&self, user: &MappingSpec) -> MappingSpec {
        let (map, defaults, optional) = overlay_fields(&self.map, &self.defaults, &self.optional, &user.map, &user.defaults, &user.optional);
        let lines = match (&self.lines, &user.lines) {
            (Some(base), Some(user)) => Some(base.overlay(user)),
            (base, user) => user.clone().or_else(|| base.clone()),
        };
        MappingSpec { when: user.when.clone().or_else(|| self.when.clone()), map, defaults, optional, lines }
    }
}

impl LinesSpec {
    /// `self` overlaid by `user`, with the rules of [`MappingSpec::overlay`].
    pub fn overlay(&self, user: &LinesSpec) -> LinesSpec {
        let (map, defaults, optional) = overlay_fields(&self.map, &self.defaults, &self.optional, &user.map, &user.defaults, &user.optional);
        LinesSpec {
            from: if user.from.get_ref().trim().is_empty() { self.from.clone() } else { user.from.clone() },
            target: if user.target.trim().is_empty() { self.target.clone() } else { user.target.clone() },
            map,
            defaults,
            optional,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> MappingSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn overlay_replaces_adds_and_removes() {
        let shipped = spec(
            r#"
            when = 'present(source.Product_Name)'
            optional = ["sku"]
            [map]
            name = 'text(source.Product_Name)'
            rate = 'source.Unit_Price'
            sku = 'text(source.Product_Code)'
            [defaults]
            sku = "none"
            rate = 0
            "#,
        );
        let user = spec(
            r#"
            optional = ["description", "sku"]
            [map]
            rate = 'round_money(source.Unit_Price, "EUR")'
            sku = ''
            description = 'text(source.Description)'
            [defaults]
            unit = "pcs"
            "#,
        );
        let merged = shipped.overlay(&user);
        assert_eq!(merged.when.as_ref().unwrap().get_ref(), "present(source.Product_Name)");
        let map: Vec<(&str, &str)> = merged.map.iter().map(|(k, v)| (k.as_str(), v.get_ref().as_str())).collect();
        assert_eq!(
            map,
            vec![("description", "text(source.Description)"), ("name", "text(source.Product_Name)"), ("rate", "round_money(source.Unit_Price, \"EUR\")")]
        );
        assert_eq!(merged.defaults.keys().collect::<Vec<_>>(), vec!["rate", "unit"]);
        assert_eq!(merged.optional, vec!["sku", "description"]);

        let replaced = shipped.overlay(&spec("when = 'source.Product_Active == true'"));
        assert_eq!(replaced.when.unwrap().get_ref(), "source.Product_Active == true");
    }

    #[test]
    fn lines_overlay() {
        let shipped = spec(
            r#"
            [lines]
            from = 'source.Product_Details'
            target = "line_items"
            map = { rate = 'line.list_price', quantity = 'line.quantity' }
            "#,
        );
        let user = spec("[lines.map]\nrate = 'line.unit_price'\nquantity = ''\n");
        let merged = shipped.overlay(&user);
        let lines = merged.lines.unwrap();
        assert_eq!(lines.from.get_ref(), "source.Product_Details");
        assert_eq!(lines.target, "line_items");
        assert_eq!(lines.map.len(), 1);
        assert_eq!(lines.map["rate"].get_ref(), "line.unit_price");
        assert!(shipped.overlay(&MappingSpec::default()).lines.is_some());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<MappingSpec>("mapp = {}").is_err());
    }
}
