//! A PostgreSQL connection URL that never shows its password.

/// A `postgres://` (or `postgresql://`) connection URL, as given to
/// `serve --db`: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS]`.
/// Without a password in the URL, the store reads `PGPASSWORD`.
///
/// Its `Debug` and `Display` show it without the password and without the
/// query options (which may hold one too): `postgres://USER@HOST:PORT/DB`,
/// so it may be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The schemes a PostgreSQL URL may start with.
    pub const SCHEMES: [&'static str; 2] = ["postgres://", "postgresql://"];

    /// Whether `text` starts with a PostgreSQL URL scheme.
    pub fn is_postgres(text: &str) -> bool {
        Self::SCHEMES.iter().any(|s| text.starts_with(s))
    }

    /// `text` as a PostgreSQL URL; the error names what is wrong (never the
    /// password).
    pub fn parse(text: &str) -> Result<PostgresUrl, String> {
        if !Self::is_postgres(text) {
            return Err("a PostgreSQL URL starts with postgres:// or postgresql://".into());
        }
        let url = PostgresUrl(text.to_owned());
        if url.host().split('/').next().unwrap_or_default().is_empty() {
            return Err(format!(
                "{url}: no host (postgres://USER@HOST:PORT/DATABASE)"
            ));
        }
        Ok(url)
    }

    /// The URL as given, password included: for the driver only.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }

    /// What follows the scheme, up to the query.
    fn rest(&self) -> &str {
        let rest = Self::SCHEMES
            .iter()
            .find_map(|s| self.0.strip_prefix(s))
            .unwrap_or(&self.0);
        rest.split_once('?').map_or(rest, |(before, _)| before)
    }

    /// The host, port and database part (after the last `@`: a password
    /// may hold `@` or `/` unencoded, a host and database do not).
    fn host(&self) -> &str {
        let rest = self.rest();
        rest.rfind('@').map_or(rest, |at| &rest[at + 1..])
    }

    /// The user, if the URL names one.
    fn user(&self) -> Option<&str> {
        let rest = self.rest();
        let info = &rest[..rest.rfind('@')?];
        Some(info.split_once(':').map_or(info, |(user, _)| user))
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("postgres://")?;
        if let Some(user) = self.user() {
            write!(f, "{user}@")?;
        }
        f.write_str(self.host())?;
        if self.0.contains('?') {
            f.write_str("?…")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::PostgresUrl;

    #[test]
    fn the_password_is_never_shown() {
        for (text, shown) in [
            (
                "postgres://alice:s3cret@db.example:5433/atlasent",
                "postgres://alice@db.example:5433/atlasent",
            ),
            (
                "postgresql://alice:s3:cr@t@127.0.0.1/a?password=s3cret&sslmode=disable",
                "postgres://alice@127.0.0.1/a?…",
            ),
            ("postgres://127.0.0.1:5432/a", "postgres://127.0.0.1:5432/a"),
            (
                "postgres://alice:s3/cr@t@127.0.0.1/a",
                "postgres://alice@127.0.0.1/a",
            ),
        ] {
            let url = PostgresUrl::parse(text).expect("a URL");
            assert_eq!(url.to_string(), shown);
            assert!(!format!("{url:?}").contains("s3"), "{url:?}");
            assert_eq!(url.secret(), text);
        }
    }

    #[test]
    fn a_url_without_scheme_or_host_is_refused() {
        assert!(PostgresUrl::parse("mysql://a@b/c").is_err());
        let e = PostgresUrl::parse("postgres://alice:s3cret@/db").expect_err("no host");
        assert!(e.contains("no host") && !e.contains("s3cret"), "{e}");
    }
}
