//! Encoding filters: `base64encode`/`base64decode`, `sha1`/`sha256`/`sha512`/`md5`
//! (lower-case hex), `toJson` (and the deprecated `json`), `yaml`, `jq`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::add_filter;
use super::strings::map_str;
use crate::convert::{json_string, to_json};
use crate::error::func_err;
use crate::runtime::check_len;

pub(crate) fn register(env: &mut Environment<'static>) {
    add_filter(env, "base64encode", &[], false, |v, _| {
        map_str(v, |s| Ok(STANDARD.encode(s.as_bytes())))
    });
    add_filter(env, "base64decode", &[], false, |v, _| {
        map_str(v, |s| {
            let bytes = STANDARD
                .decode(s.trim().as_bytes())
                .map_err(|e| func_err(format!("Invalid base64 value: {e}")))?;
            String::from_utf8(bytes).map_err(|_| func_err("The base64 value is not a UTF-8 string"))
        })
    });
    add_filter(env, "sha256", &[], false, |v, _| {
        map_str(v, |s| Ok(hex(&Sha256::digest(s.as_bytes()))))
    });
    add_filter(env, "sha1", &[], false, |v, _| {
        map_str(v, |s| Ok(hex(&Sha1::digest(s.as_bytes()))))
    });
    add_filter(env, "sha512", &[], false, |v, _| {
        map_str(v, |s| Ok(hex(&Sha512::digest(s.as_bytes()))))
    });
    add_filter(env, "md5", &[], false, |v, _| {
        map_str(v, |s| Ok(hex(&Md5::digest(s.as_bytes()))))
    });
    add_filter(env, "toJson", &[], false, |v, _| to_json_filter(v));
    add_filter(env, "json", &[], false, |v, _| to_json_filter(v));
    add_filter(env, "yaml", &[], false, |v, _| {
        if v.is_none() {
            return Ok(Value::from("null"));
        }
        let out = crate::yaml::to_yaml(&to_json(v));
        check_len(out.len())?;
        Ok(Value::from(out))
    });
    add_filter(env, "jq", &["expression"], false, |v, a| {
        if v.is_none() {
            return Ok(Value::from(()));
        }
        let expr = a
            .get(0)
            .ok_or_else(|| func_err("The 'jq' filter expects an argument 'expression'."))?;
        let expr = expr
            .as_str()
            .ok_or_else(|| func_err("The 'jq' expression must be a string"))?;
        let input = if v.kind() == ValueKind::String {
            serde_json::from_str(v.as_str().unwrap_or_default()).map_err(|e| {
                func_err(format!(
                    "Unable to parse jq value '{}' as JSON: {e}",
                    v.as_str().unwrap_or_default()
                ))
            })?
        } else {
            to_json(v)
        };
        let out = crate::jq::run(expr, input).map_err(func_err)?;
        Ok(Value::from(
            out.iter()
                .map(crate::convert::from_json)
                .collect::<Vec<_>>(),
        ))
    });
}

fn to_json_filter(v: &Value) -> Result<Value, Error> {
    let out = json_string(v);
    check_len(out.len())?;
    Ok(Value::from(out))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
