//! `Content-Disposition: attachment` headers with file names a browser, a terminal or a
//! file manager shows as they are: bidirectional controls (U+202A–U+202E, U+2066–U+2069,
//! U+200E/U+200F, U+061C), other control and invisible format characters, quotes,
//! backslashes and path separators become `_`; leading dots are dropped. The name is sent
//! twice, as ASCII (`filename=`, other characters as `_`) and as UTF-8 (`filename*=`,
//! RFC 6266/8187).

use axum::http::HeaderValue;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters kept as they are in `filename*`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Whether `c` may stay in a file name.
fn safe(c: char) -> bool {
    !(c.is_control()
        || matches!(c, '"' | '\'' | '\\' | '/' | '`')
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'))
}

/// The file name cleaned of anything that could disguise it.
pub(crate) fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if safe(c) { c } else { '_' })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "download".to_owned()
    } else {
        cleaned
    }
}

/// `attachment; filename="<ascii>"; filename*=UTF-8''<utf-8>`.
pub(crate) fn attachment(name: &str) -> HeaderValue {
    let clean = sanitize(name);
    let ascii: String = clean
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let value = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(&clean, KEEP)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_controls_are_replaced() {
        let evil = "invoice\u{202E}fdp.exe";
        assert_eq!(sanitize(evil), "invoice_fdp.exe");
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2066}', '\u{2067}', '\u{2068}',
            '\u{2069}', '\u{200F}', '\n', '\r', '\0', '"', '\'', '/', '\\',
        ] {
            let s = sanitize(&format!("a{c}b"));
            assert_eq!(s, "a_b", "{c:?}");
        }
        assert_eq!(sanitize("../etc/passwd"), "_etc_passwd");
        assert_eq!(sanitize(""), "download");
        let h = attachment("résumé \u{202E}txt.exe");
        let v = std::str::from_utf8(h.as_bytes()).unwrap();
        assert_eq!(
            v,
            "attachment; filename=\"r_sum_ _txt.exe\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20_txt.exe"
        );
    }
}
