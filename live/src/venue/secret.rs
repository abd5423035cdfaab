//! Credentials: an API key and secret read from environment variables, never from a file, and
//! never printed. `Secret` formats as `***` under both `Debug` and `Display`, so it cannot leak
//! through a log line, an error or a `{:?}` of a config by accident.

use std::fmt;

/// A credential. Its text is reachable only through `Secret::expose`, inside this crate.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// Returns the text, for signing and for the `apiKey` parameter only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A missing or unusable credential variable; names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The variable is not set.
    #[error("environment variable {} ({what}) is not set", shown(var))]
    Missing {
        /// The variable's name.
        var: String,
        /// What it should hold.
        what: &'static str,
    },
    /// The variable is set but empty or not text.
    #[error(
        "environment variable {} ({what}) is empty or not valid text",
        shown(var)
    )]
    Unusable {
        /// The variable's name.
        var: String,
        /// What it should hold.
        what: &'static str,
    },
}

/// Returns true when `var` looks like an environment variable's name rather than a credential
/// pasted in its place: names are short and upper case (`BINANCE_API_KEY`); a key is long and
/// mixed.
pub fn is_variable_name(var: &str) -> bool {
    !var.is_empty()
        && var.len() <= 40
        && var
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Returns a variable's name for a message, unless it could be a credential.
fn shown(var: &str) -> String {
    if is_variable_name(var) {
        var.to_string()
    } else {
        "<not shown: it does not look like a variable name; is it the credential itself? Put \
         that in a variable and give its name>"
            .to_string()
    }
}

/// The API key and secret of a venue account.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Sent with every signed request as `apiKey`.
    pub api_key: Secret,
    /// Signs requests; never sent.
    pub secret: Secret,
}

impl Credentials {
    /// Reads the key from the variable named `key_var` and the secret from `secret_var`.
    ///
    /// # Errors
    /// Either variable is unset, empty or not text; the error names it.
    pub fn from_env(key_var: &str, secret_var: &str) -> Result<Self, CredentialError> {
        let read = |var: &str, what: &'static str| match std::env::var(var) {
            Ok(text) if !text.is_empty() => Ok(Secret(text)),
            Err(std::env::VarError::NotPresent) => Err(CredentialError::Missing {
                var: var.to_owned(),
                what,
            }),
            _ => Err(CredentialError::Unusable {
                var: var.to_owned(),
                what,
            }),
        };
        Ok(Self {
            api_key: read(key_var, "the venue API key")?,
            secret: read(secret_var, "the venue API secret")?,
        })
    }

    /// Returns `text` with every occurrence of the key or the secret replaced by `***`: applied
    /// to anything a venue sends back before it is logged, in case the venue echoes a request.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in [&self.api_key, &self.secret] {
            if !secret.0.is_empty() && out.contains(&secret.0) {
                out = out.replace(&secret.0, "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_pasted_as_a_variable_name_is_never_printed() {
        let pasted = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
        let err = Credentials::from_env(pasted, "QUANT_TEST_UNSET_SECRET").unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains(pasted) && text.contains("not shown"),
            "{text}"
        );
        let err = Credentials::from_env("QUANT_TEST_UNSET_KEY", "X").unwrap_err();
        assert!(err.to_string().contains("QUANT_TEST_UNSET_KEY"), "{err}");
    }

    #[test]
    fn secrets_never_format_as_their_text() {
        let creds = Credentials {
            api_key: Secret::new("key-123"),
            secret: Secret::new("hunter2"),
        };
        let shown = format!("{creds:?} {} {}", creds.api_key, creds.secret);
        assert!(
            !shown.contains("hunter2") && !shown.contains("key-123"),
            "{shown}"
        );
        assert_eq!(creds.redact("echo hunter2 and key-123"), "echo *** and ***");
    }

    #[test]
    fn a_missing_variable_is_named() {
        let error = Credentials::from_env("QUANT_TEST_NO_SUCH_KEY_VAR", "X").unwrap_err();
        assert!(
            error.to_string().contains("QUANT_TEST_NO_SUCH_KEY_VAR"),
            "{error}"
        );
    }
}
