//! The domain helpers mapping expressions call: text clean-up, money rounding, dates
//! and payment terms.
//!
//! Each helper is a plain Rust function over rhai's `Dynamic`, so it can be tested
//! without an engine; [`super::engine`] registers them. They share one rule: a helper
//! given `()` (an absent field) gives `()` back, so `trim(source.X)` of an absent `X`
//! stays absent and the field's `defaults`/`optional` decide what happens. A value of
//! the wrong kind is an error whose text names the helper and what it got.

use std::str::FromStr;

use jiff::{ToSpan, civil::Date};
use rhai::{Dynamic, INT, ImmutableString};
use rust_decimal::{Decimal, RoundingStrategy};

/// What a helper returns: a value, or a reason a person can read.
pub type HelperResult = Result<Dynamic, String>;

fn string(value: impl Into<ImmutableString>) -> Dynamic {
    Dynamic::from(value.into())
}

/// Text of a value for the text helpers: strings as they are, numbers and booleans as
/// their text; `None` for `()`.
fn as_text(helper: &str, value: &Dynamic) -> Result<Option<ImmutableString>, String> {
    if value.is_unit() {
        return Ok(None);
    }
    if value.is_string() {
        return Ok(value.clone().into_immutable_string().ok());
    }
    if let Ok(i) = value.as_int() {
        return Ok(Some(i.to_string().into()));
    }
    if let Ok(d) = value.as_decimal() {
        return Ok(Some(d.normalize().to_string().into()));
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Some(b.to_string().into()));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Some(c.to_string().into()));
    }
    Err(format!("{helper} expects text, got {}", kind(value)))
}

/// A readable name for a value's type in error messages.
pub fn kind(value: &Dynamic) -> &'static str {
    if value.is_unit() {
        "no value (())"
    } else if value.is_string() {
        "text"
    } else if value.is_int() || value.is_decimal() {
        "a number"
    } else if value.is_bool() {
        "true/false"
    } else if value.is_array() {
        "an array"
    } else if value.is_map() {
        "an object"
    } else {
        "a value of another kind"
    }
}

/// `text(x)`: the text trimmed; `()` when it is empty or `x` is `()`. Numbers and
/// booleans become their text.
pub fn text(value: Dynamic) -> HelperResult {
    Ok(match as_text("text", &value)? {
        Some(s) if !s.trim().is_empty() => {
            if s.trim().len() == s.len() {
                string(s)
            } else {
                string(s.trim())
            }
        }
        _ => Dynamic::UNIT,
    })
}

/// `trim(x)`: the text without leading and trailing white space (possibly `""`).
pub fn trim(value: Dynamic) -> HelperResult {
    Ok(match as_text("trim", &value)? {
        Some(s) => string(s.trim()),
        None => Dynamic::UNIT,
    })
}

/// `lower(x)`: the text in lower case.
pub fn lower(value: Dynamic) -> HelperResult {
    Ok(match as_text("lower", &value)? {
        Some(s) => string(s.to_lowercase()),
        None => Dynamic::UNIT,
    })
}

/// `upper(x)`: the text in upper case.
pub fn upper(value: Dynamic) -> HelperResult {
    Ok(match as_text("upper", &value)? {
        Some(s) => string(s.to_uppercase()),
        None => Dynamic::UNIT,
    })
}

/// `normalize(x)`: a key for comparing names: lower case, accents on Latin letters
/// folded (`é` → `e`, `ß` → `ss`), apostrophes and full stops dropped (`O'Brien` →
/// `obrien`, `Inc.` → `inc`), every other punctuation mark or symbol a space, white
/// space collapsed to single spaces and trimmed. `()` when nothing is left.
pub fn normalize(value: Dynamic) -> HelperResult {
    let Some(s) = as_text("normalize", &value)? else {
        return Ok(Dynamic::UNIT);
    };
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for upper in s.chars() {
        for c in upper.to_lowercase() {
            if matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '.' | '\u{02bc}') {
                continue;
            }
            if c.is_alphanumeric() {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                match fold_latin(c) {
                    Some(folded) => out.push_str(folded),
                    None => out.push(c),
                }
            } else if c.is_whitespace() || !is_combining_mark(c) {
                pending_space = true;
            }
        }
    }
    Ok(if out.is_empty() { Dynamic::UNIT } else { string(out) })
}

/// Combining diacritical marks (U+0300–U+036F), dropped so decomposed accents fold too.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

/// The plain form of a lower-case accented Latin letter (Latin-1 Supplement and Latin
/// Extended-A), `None` for any other character.
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' | 'ĸ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// `present(x)`: `true` unless `x` is `()` or text that is empty or only white space.
pub fn present(value: Dynamic) -> bool {
    if value.is_unit() {
        return false;
    }
    if value.is_string() {
        return value.into_immutable_string().map(|s| !s.trim().is_empty()).unwrap_or(false);
    }
    true
}

/// A number from an integer, a decimal, or text holding one (`"12.50"`, `"1e3"`);
/// `None` for `()` or blank text.
fn as_decimal(helper: &str, value: &Dynamic) -> Result<Option<Decimal>, String> {
    if value.is_unit() {
        return Ok(None);
    }
    if let Ok(i) = value.as_int() {
        return Ok(Some(Decimal::from(i)));
    }
    if let Ok(d) = value.as_decimal() {
        return Ok(Some(d));
    }
    if value.is_string() {
        let s = value.clone().into_immutable_string().unwrap_or_default();
        let t = s.trim();
        if t.is_empty() {
            return Ok(None);
        }
        return Decimal::from_str(t)
            .or_else(|_| Decimal::from_scientific(t))
            .map(|d| Some(d.normalize()))
            .map_err(|_| format!("{helper}: {t:?} is not a number"));
    }
    Err(format!("{helper} expects a number, got {}", kind(value)))
}

/// `decimal(x)`: `x` as an exact decimal number; text is parsed (`"19.99"`); `()` for
/// `()` or blank text; anything else that is not a number is an error.
pub fn decimal(value: Dynamic) -> HelperResult {
    Ok(match as_decimal("decimal", &value)? {
        Some(d) => Dynamic::from_decimal(d),
        None => Dynamic::UNIT,
    })
}

/// The number of decimal places Books uses for a currency (ISO 4217 minor units):
/// 0 for JPY, KRW, CLP, ISK, VND and the other currencies without minor unit, 3 for
/// BHD, IQD, JOD, KWD, LYD, OMR and TND, 2 for every other code.
pub fn currency_places(code: &str) -> u32 {
    match code.trim().to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `round_money(x, currency_or_places)`: `x` rounded to the currency's decimal places
/// (`"JPY"` → 0, `"KWD"` → 3, other codes 2) or to a given number of places (0–28),
/// midpoints away from zero (`2.345` → `2.35`, `-2.345` → `-2.35`). `()` when `x` is
/// `()`.
pub fn round_money(value: Dynamic, places: Dynamic) -> HelperResult {
    let Some(amount) = as_decimal("round_money", &value)? else {
        return Ok(Dynamic::UNIT);
    };
    let dp = if let Ok(n) = places.as_int() {
        u32::try_from(n).ok().filter(|n| *n <= 28).ok_or_else(|| format!("round_money: {n} is not a number of decimal places (0 to 28)"))?
    } else if places.is_string() {
        let code = places.into_immutable_string().unwrap_or_default();
        let code = code.trim();
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("round_money: {code:?} is not a currency code (three letters, e.g. \"EUR\")"));
        }
        currency_places(code)
    } else {
        return Err(format!("round_money expects a currency code or a number of decimal places, got {}", kind(&places)));
    };
    Ok(Dynamic::from_decimal(amount.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)))
}

/// A civil date from `YYYY-MM-DD` text, or from the date part of a date-time written
/// `YYYY-MM-DDTHH:MM…` (the date as written, in its own offset); `None` for `()`.
fn as_date(helper: &str, value: &Dynamic) -> Result<Option<Date>, String> {
    if value.is_unit() {
        return Ok(None);
    }
    if !value.is_string() {
        return Err(format!("{helper} expects a date as text (YYYY-MM-DD), got {}", kind(value)));
    }
    let s = value.clone().into_immutable_string().unwrap_or_default();
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let date_part = match t.get(..10) {
        Some(head) if t.len() == 10 || matches!(t.as_bytes()[10], b'T' | b't' | b' ') => head,
        _ => t,
    };
    Date::from_str(date_part).map(Some).map_err(|_| format!("{helper}: {t:?} is not a date (YYYY-MM-DD)"))
}

fn as_days(helper: &str, value: &Dynamic) -> Result<Option<INT>, String> {
    if value.is_unit() {
        return Ok(None);
    }
    if let Ok(n) = value.as_int() {
        return Ok(Some(n));
    }
    if let Ok(d) = value.as_decimal()
        && d.fract().is_zero()
        && let Ok(n) = i64::try_from(d)
    {
        return Ok(Some(n));
    }
    Err(format!("{helper} expects a whole number of days, got {}", kind(value)))
}

fn date_text(date: Date) -> Dynamic {
    string(date.to_string())
}

fn plus_days(helper: &str, date: Date, days: INT) -> Result<Date, String> {
    date.checked_add(days.days()).map_err(|_| format!("{helper}: {date} plus {days} days is outside the supported dates"))
}

/// `add_days(date, n)`: the date `n` days later (earlier when negative), as
/// `YYYY-MM-DD`. `()` when either is `()`.
pub fn add_days(date: Dynamic, days: Dynamic) -> HelperResult {
    let (Some(date), Some(days)) = (as_date("add_days", &date)?, as_days("add_days", &days)?) else {
        return Ok(Dynamic::UNIT);
    };
    Ok(date_text(plus_days("add_days", date, days)?))
}

/// `due_date(date, terms)`: the due date of an invoice dated `date` under payment
/// `terms`: a number of days (`30`, `"30"`), or one of Zoho's labels: `"Net 15"`,
/// `"Net 30"`, `"Net 45"`, `"Net 60"` (any `Net N`), `"Due on Receipt"` (the date
/// itself), `"Due end of the month"` (the month's last day), `"Due end of next month"`
/// (next month's last day). Labels are matched without regard to case or extra spaces.
/// `()` when either is `()`; an unknown label is an error.
pub fn due_date(date: Dynamic, terms: Dynamic) -> HelperResult {
    let Some(date) = as_date("due_date", &date)? else {
        return Ok(Dynamic::UNIT);
    };
    if terms.is_unit() {
        return Ok(Dynamic::UNIT);
    }
    if !terms.is_string() {
        let Some(days) = as_days("due_date", &terms)? else {
            return Ok(Dynamic::UNIT);
        };
        return Ok(date_text(plus_days("due_date", date, days)?));
    }
    let label = terms.into_immutable_string().unwrap_or_default();
    let words: Vec<String> = label.split_whitespace().map(str::to_lowercase).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let due = match words.as_slice() {
        [] => return Ok(Dynamic::UNIT),
        [n] if n.parse::<INT>().is_ok() => plus_days("due_date", date, n.parse().unwrap_or(0))?,
        ["net", n] if n.parse::<INT>().is_ok() => plus_days("due_date", date, n.parse().unwrap_or(0))?,
        [net] if net.strip_prefix("net").is_some_and(|n| n.parse::<INT>().is_ok()) => plus_days("due_date", date, net["net".len()..].parse().unwrap_or(0))?,
        ["due", "on", "receipt"] => date,
        ["due", "end", "of", "the", "month"] | ["due", "end", "of", "month"] => date.last_of_month(),
        ["due", "end", "of", "next", "month"] | ["due", "end", "of", "the", "next", "month"] => date
            .first_of_month()
            .checked_add(1.month())
            .map_err(|_| format!("due_date: the month after {date} is outside the supported dates"))?
            .last_of_month(),
        _ => {
            return Err(format!(
                "due_date: unknown payment terms {:?} (expected a number of days, \"Net 15\", \"Net 30\", \"Net 45\", \"Net 60\", \"Due on Receipt\", \"Due end of the month\" or \"Due end of next month\")",
                label.as_str()
            ));
        }
    };
    Ok(date_text(due))
}

/// The key text a `lookup` uses for a value: text as it is, numbers and booleans as
/// their text; `None` for `()`.
pub fn lookup_key(value: &Dynamic) -> Result<Option<ImmutableString>, String> {
    as_text("lookup", value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Dynamic {
        Dynamic::from(ImmutableString::from(x))
    }
    fn d(x: &str) -> Dynamic {
        Dynamic::from_decimal(Decimal::from_str(x).unwrap())
    }
    fn as_string(v: HelperResult) -> String {
        v.unwrap().into_string().unwrap()
    }

    #[test]
    fn text_trims_and_empties_to_unit() {
        assert_eq!(as_string(text(s("  Widget "))), "Widget");
        assert!(text(s("   ")).unwrap().is_unit());
        assert!(text(Dynamic::UNIT).unwrap().is_unit());
        assert_eq!(as_string(text(Dynamic::from_int(42))), "42");
        assert!(text(Dynamic::from_array(vec![])).is_err());
    }

    #[test]
    fn trim_lower_upper() {
        assert_eq!(as_string(trim(s("  a b  "))), "a b");
        assert_eq!(as_string(trim(s("   "))), "");
        assert!(trim(Dynamic::UNIT).unwrap().is_unit());
        assert_eq!(as_string(lower(s("ÉCOLE Abc"))), "école abc");
        assert_eq!(as_string(upper(s("straße"))), "STRASSE");
        assert!(lower(Dynamic::UNIT).unwrap().is_unit());
        assert!(upper(Dynamic::UNIT).unwrap().is_unit());
    }

    #[test]
    fn normalize_folds_accents_and_punctuation() {
        assert_eq!(as_string(normalize(s("  Société Générale, S.A.  "))), "societe generale sa");
        assert_eq!(as_string(normalize(s("O'Brien & Søns   GmbH"))), "obrien sons gmbh");
        assert_eq!(as_string(normalize(s("Müller-Lüdenscheidt Straße"))), "muller ludenscheidt strasse");
        assert_eq!(as_string(normalize(s("Łódź\tŻółć"))), "lodz zolc");
        assert_eq!(as_string(normalize(s("Cafe\u{0301} Noe\u{0308}l"))), "cafe noel");
        assert!(normalize(s(" ... ")).unwrap().is_unit());
        assert!(normalize(Dynamic::UNIT).unwrap().is_unit());
    }

    #[test]
    fn present_is_false_for_unit_and_blank() {
        assert!(!present(Dynamic::UNIT));
        assert!(!present(s(" \t")));
        assert!(present(s("x")));
        assert!(present(Dynamic::from_int(0)));
        assert!(present(Dynamic::from_bool(false)));
    }

    #[test]
    fn round_money_per_currency_and_places() {
        let r = |x: &str, p: Dynamic| round_money(d(x), p).unwrap().as_decimal().unwrap().to_string();
        assert_eq!(r("2.345", s("EUR")), "2.35");
        assert_eq!(r("-2.345", s("usd")), "-2.35");
        assert_eq!(r("1234.5", s("JPY")), "1235");
        assert_eq!(r("1.2345", s("KWD")), "1.235");
        assert_eq!(r("1.2344", s("BHD")), "1.234");
        assert_eq!(r("0.125", Dynamic::from_int(2)), "0.13");
        assert_eq!(r("10", s("EUR")), "10");
        assert_eq!(round_money(s("19.995"), s("EUR")).unwrap().as_decimal().unwrap().to_string(), "20.00");
        assert!(round_money(Dynamic::UNIT, s("EUR")).unwrap().is_unit());
        assert!(round_money(d("1"), s("EURO")).is_err());
        assert!(round_money(d("1"), Dynamic::from_int(-1)).is_err());
        assert!(round_money(d("1"), Dynamic::UNIT).is_err());
    }

    #[test]
    fn decimal_parses_text_and_numbers() {
        assert_eq!(decimal(s(" 19.99 ")).unwrap().as_decimal().unwrap(), Decimal::from_str("19.99").unwrap());
        assert_eq!(decimal(s("1e3")).unwrap().as_decimal().unwrap(), Decimal::from(1000));
        assert_eq!(decimal(Dynamic::from_int(7)).unwrap().as_decimal().unwrap(), Decimal::from(7));
        assert!(decimal(s("")).unwrap().is_unit());
        assert!(decimal(Dynamic::UNIT).unwrap().is_unit());
        assert!(decimal(s("abc")).unwrap_err().contains("not a number"));
        assert!(decimal(Dynamic::from_bool(true)).is_err());
    }

    #[test]
    fn add_days_on_civil_dates() {
        assert_eq!(as_string(add_days(s("2024-02-27"), Dynamic::from_int(3))), "2024-03-01");
        assert_eq!(as_string(add_days(s("2024-03-01T10:00:00+05:30"), Dynamic::from_int(-1))), "2024-02-29");
        assert!(add_days(Dynamic::UNIT, Dynamic::from_int(3)).unwrap().is_unit());
        assert!(add_days(s("2024-01-01"), Dynamic::UNIT).unwrap().is_unit());
        assert!(add_days(s("01/02/2024"), Dynamic::from_int(1)).is_err());
    }

    #[test]
    fn due_date_from_days_and_labels() {
        let due = |terms: Dynamic| as_string(due_date(s("2024-01-31"), terms));
        assert_eq!(due(Dynamic::from_int(15)), "2024-02-15");
        assert_eq!(due(s("30")), "2024-03-01");
        assert_eq!(due(s("Net 15")), "2024-02-15");
        assert_eq!(due(s("Net 30")), "2024-03-01");
        assert_eq!(due(s("net  45")), "2024-03-16");
        assert_eq!(due(s("Net 60")), "2024-03-31");
        assert_eq!(due(s("Due on Receipt")), "2024-01-31");
        assert_eq!(as_string(due_date(s("2024-02-10"), s("Due end of the month"))), "2024-02-29");
        assert_eq!(due(s("Due end of next month")), "2024-02-29");
        assert_eq!(as_string(due_date(s("2024-12-05"), s("Due end of next month"))), "2025-01-31");
        assert!(due_date(Dynamic::UNIT, s("Net 30")).unwrap().is_unit());
        assert!(due_date(s("2024-01-31"), Dynamic::UNIT).unwrap().is_unit());
        assert!(due_date(s("2024-01-31"), s("Net thirty")).unwrap_err().contains("unknown payment terms"));
    }
}
