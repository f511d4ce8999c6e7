//! Pages of the list RPCs: a page size (default 100, at most 1000) and opaque page
//! tokens. A token carries the sort key of the last item of the page before (keyset
//! pagination: a page costs the same at any depth, and items added meanwhile are
//! neither skipped nor repeated); a token this API did not give is refused, naming the
//! field.

use super::ApiError;

pub use super::limits::MAX_PAGE_SIZE;

pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// The page size a request asks for, within bounds (0 means the default).
pub fn size(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// The token after `items`: the last one's key when the page is full, else empty (the
/// last page).
pub fn next_token<T>(items: &[T], size: u32, key: impl Fn(&T) -> Vec<String>) -> String {
    match items.last() {
        Some(last) if items.len() >= size as usize => hex::encode(key(last).join("\n")),
        _ => String::new(),
    }
}

fn bad() -> ApiError {
    ApiError::invalid(
        "page_token",
        "not a token this API gave: pass the last page's next_page_token back unchanged",
    )
}

/// One field of a token's key, parsed.
pub fn field<T: std::str::FromStr>(text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| bad())
}

/// The key in `token` (`parts` fields), or None for the first page.
pub fn key(token: &str, parts: usize) -> Result<Option<Vec<String>>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let text = hex::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let key: Vec<String> = text.split('\n').map(str::to_string).collect();
    if key.len() != parts {
        return Err(bad());
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_are_bounded() {
        assert_eq!(size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(size(7), 7);
        assert_eq!(size(u32::MAX), MAX_PAGE_SIZE);
    }

    #[test]
    fn only_a_full_page_has_a_next_token() {
        let key = |n: &u32| vec![n.to_string()];
        assert_eq!(next_token(&[1, 2], 3, key), "");
        assert_ne!(next_token(&[1, 2, 3], 3, key), "");
    }

    #[test]
    fn foreign_tokens_are_refused() {
        for token in ["zz", "00ff", &hex::encode("a\nb\nc")] {
            assert!(key(token, 2).is_err(), "{token}");
        }
    }

    proptest! {
        #[test]
        fn a_key_survives_its_token(a in "[^\n]{0,40}", b in "[^\n]{0,40}") {
            let token = next_token(&[()], 1, |_| vec![a.clone(), b.clone()]);
            prop_assert_eq!(key(&token, 2).unwrap(), Some(vec![a, b]));
        }
    }
}
