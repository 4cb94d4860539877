//! Unguessable ids: permits (`dec_`), escalations (`esc_`) and exports
//! (`exp_`).

use super::EngineError;

/// `prefix` and a random (version 4) UUID as 32 lowercase hex digits. The
/// OS generator failing is an error (503), never a panic.
pub(super) fn random_id(prefix: &str) -> Result<String, EngineError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| EngineError::Storage(format!("the OS random generator failed: {e}")))?;
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    Ok(format!("{prefix}{}", id.simple()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_the_prefix_and_32_hex_digits() {
        let a = super::random_id("dec_").expect("an id");
        let b = super::random_id("dec_").expect("an id");
        assert_ne!(a, b);
        let hex = a.strip_prefix("dec_").expect("the prefix");
        assert_eq!(hex.len(), 32);
        assert!(hex
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
    }
}
