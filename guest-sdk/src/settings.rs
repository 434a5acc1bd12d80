//! Settings the deployment gives this handler.
//!
//! Settings let one compiled handler serve many deployments. Values are
//! strings; [`get_parsed`] and [`get_or`] parse them with [`FromStr`].

use std::fmt::Display;
use std::str::FromStr;

use crate::bindings::authkit::plugin::settings as imports;
use crate::{Error, Result};

/// Returns the value of the setting `key`, or `None` if it is not set.
pub fn get(key: &str) -> Option<String> {
    imports::get(key)
}

/// Returns every setting as key and value pairs, sorted by key.
pub fn all() -> Vec<(String, String)> {
    imports::all()
}

/// Returns the setting `key` parsed as `T`, or `None` if it is not set.
///
/// The error names the key and the value that failed to parse.
pub fn get_parsed<T>(key: &str) -> Result<Option<T>>
where
    T: FromStr,
    T::Err: Display,
{
    get(key).map(|value| parse_value(key, &value)).transpose()
}

/// Returns the setting `key` parsed as `T`, or `default` if it is not set.
pub fn get_or<T>(key: &str, default: T) -> Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    Ok(get_parsed(key)?.unwrap_or(default))
}

fn parse_value<T>(key: &str, value: &str) -> Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse().map_err(|error| {
        Error::new(format_args!(
            "invalid value `{value}` for setting `{key}`: {error}; \
             fix the setting in the host's configuration"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_value_reads_number() {
        assert_eq!(parse_value::<u64>("spin_ms", "250"), Ok(250));
    }

    #[test]
    fn parse_value_error_names_key_and_value() {
        let error = parse_value::<u64>("spin_ms", "soon").unwrap_err();
        assert!(error.message().contains("`spin_ms`"), "{error}");
        assert!(error.message().contains("`soon`"), "{error}");
    }
}
