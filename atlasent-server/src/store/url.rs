//! A PostgreSQL connection URL that never shows its password.

/// A `postgres://` (or `postgresql://`) connection URL, as given to
/// `serve --db`: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS]`.
/// Without a password in the URL, the store reads `PGPASSWORD`. A password
/// holding `@`, `/`, `?` or `%` is percent-encoded in a URL (`%40` for `@`);
/// a URL with more than one `@` is refused.
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
        // The driver takes the credentials up to the first `@`: a second
        // one means a password with an `@` not percent-encoded, whose rest
        // would be read as the host (and shown as one).
        if url.split().1.contains('@') {
            return Err(
                "the URL has more than one `@`: percent-encode an `@` of the password as %40"
                    .into(),
            );
        }
        // HOST[:PORT][,HOST[:PORT]…] (an IPv6 host in brackets): what else
        // follows a `:` is a password given without a user's `@` — never
        // shown, refused.
        let hosts = url.host().split('/').next().unwrap_or_default();
        let port_ok = |port: &str| {
            port.is_empty() || (port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()))
        };
        let valid = hosts.split(',').all(|chunk| match chunk.strip_prefix('[') {
            Some(v6) => v6.split_once(']').is_some_and(|(_, rest)| {
                rest.is_empty() || rest.strip_prefix(':').is_some_and(port_ok)
            }),
            None => chunk.split_once(':').is_none_or(|(_, port)| port_ok(port)),
        });
        if !valid {
            return Err(
                "the URL's host part is not HOST[:PORT] (a password goes after the user and \
                 before an `@`: postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
                    .into(),
            );
        }
        if hosts.is_empty() {
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

    /// What follows the scheme.
    fn rest(&self) -> &str {
        Self::SCHEMES
            .iter()
            .find_map(|s| self.0.strip_prefix(s))
            .unwrap_or(&self.0)
    }

    /// The credentials (`USER[:PASSWORD]`, if any) and what follows them,
    /// split as the driver splits them: at the first `@`.
    fn split(&self) -> (Option<&str>, &str) {
        let rest = self.rest();
        match rest.split_once('@') {
            Some((credentials, after)) => (Some(credentials), after),
            None => (None, rest),
        }
    }

    /// The host, port and database part (after the credentials, before the
    /// options).
    fn host(&self) -> &str {
        let after = self.split().1;
        after.split_once('?').map_or(after, |(before, _)| before)
    }

    /// The user, if the URL names one.
    fn user(&self) -> Option<&str> {
        let credentials = self.split().0?;
        Some(
            credentials
                .split_once(':')
                .map_or(credentials, |(user, _)| user),
        )
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("postgres://")?;
        if let Some(user) = self.user() {
            write!(f, "{user}@")?;
        }
        f.write_str(self.host())?;
        if self.split().1.contains('?') {
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
                "postgresql://alice:s3cr%40t@127.0.0.1/a?password=s3cret&sslmode=disable",
                "postgres://alice@127.0.0.1/a?…",
            ),
            ("postgres://127.0.0.1:5432/a", "postgres://127.0.0.1:5432/a"),
            (
                "postgres://u:s3@[::1]:5432,db2/a",
                "postgres://u@[::1]:5432,db2/a",
            ),
            (
                "postgres://alice:s3/cr?t#x@127.0.0.1/a",
                "postgres://alice@127.0.0.1/a",
            ),
            (
                "postgres://alice:s3cret?x@127.0.0.1/a",
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
    fn a_password_the_driver_would_misread_is_refused_without_showing_it() {
        for text in [
            "postgres://alice:s3cret/atlasent",
            "postgres://alice:s3cret",
            "postgresql://alice:s3cret:5432/atlasent",
            "postgres://alice:s3@cret@127.0.0.1/a",
            "postgres://alice:p@ss/w?rd@127.0.0.1/a",
        ] {
            let e = PostgresUrl::parse(text).expect_err("refused");
            assert!(!e.contains("s3") && !e.contains("ss/w"), "{e}");
        }
    }

    #[test]
    fn a_url_without_scheme_or_host_is_refused() {
        assert!(PostgresUrl::parse("mysql://a@b/c").is_err());
        let e = PostgresUrl::parse("postgres://alice:s3cret@/db").expect_err("no host");
        assert!(e.contains("no host") && !e.contains("s3cret"), "{e}");
    }
}
