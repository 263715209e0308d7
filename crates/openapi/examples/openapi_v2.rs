//! Builds the `/openapi/v2` document, prints its sizes and build time, and
//! writes both forms into a directory if one is given.
//! `cargo run --release -p berth-openapi --example openapi_v2 [DIR]`

use std::time::Instant;

use berth_openapi::{OpenApi, V2Format};

fn main() -> std::io::Result<()> {
    let api = OpenApi::new();
    let start = Instant::now();
    let json = api.v2(V2Format::Json);
    let built = start.elapsed();
    let protobuf = api.v2(V2Format::Protobuf);
    println!(
        "built in {built:?}: JSON {} bytes, protobuf {} bytes, ETag {}...",
        json.body.len(),
        protobuf.body.len(),
        &json.etag[..17]
    );
    if let Some(dir) = std::env::args().nth(1) {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(format!("{dir}/openapi-v2.json"), &json.body)?;
        std::fs::write(format!("{dir}/openapi-v2.pb"), &protobuf.body)?;
    }
    Ok(())
}
