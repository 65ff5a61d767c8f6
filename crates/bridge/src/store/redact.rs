//! Keeps connection passwords out of error messages (DESIGN invariant 6).

/// The URL with its password replaced by `***` (unchanged when it has none or is not a URL).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one.
            if parsed.set_password(Some("***")).is_ok() { parsed.to_string() } else { String::from("<connection url>") }
        }
        _ => url.to_string(),
    }
}

/// `message` with every occurrence of the URL's password (raw and percent-decoded)
/// replaced by `***`.
pub fn redact_message(message: &str, url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return message.to_string();
    };
    let Some(password) = parsed.password() else {
        return message.to_string();
    };
    let mut out = message.replace(url, &redact_url(url));
    if !password.is_empty() {
        out = out.replace(password, "***");
        if let Ok(decoded) = percent_decode(password)
            && !decoded.is_empty()
        {
            out = out.replace(&decoded, "***");
        }
    }
    out
}

fn percent_decode(text: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && text.is_char_boundary(i + 3)
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_the_password() {
        let url = "postgres://bridge:s%40cret@db.example:5432/bridge";
        assert_eq!(redact_url(url), "postgres://bridge:***@db.example:5432/bridge");
        let message = redact_message(&format!("cannot reach {url}; password s@cret rejected"), url);
        assert!(!message.contains("s@cret") && !message.contains("s%40cret"), "{message}");
    }

    #[test]
    fn leaves_urls_without_password() {
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/x"), "postgres://postgres@127.0.0.1/x");
    }
}
