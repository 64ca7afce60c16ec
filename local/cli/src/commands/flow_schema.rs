//! `kite flow schema`: the JSON Schema of the flow language on stdout.

use std::process::ExitCode;

/// Prints the schema.
pub fn run() -> anyhow::Result<ExitCode> {
    let schema = kite_flow::schema::flow_schema(kite_flow::Registry::global());
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}
