//! Writes `/openapi/v3` and every group-version document into a directory,
//! for checking them by hand against kubectl (see tools/serve_for_kubectl.py).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "openapi-dump".into()),
    );
    let api = berth_openapi::OpenApi::new();
    let index = api.index();
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("index.json"),
        serde_json::to_vec(&index).unwrap_or_default(),
    )?;
    for path in index["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if let Some(bytes) = api.document(path) {
            let file = out.join(format!("{}.json", path.replace('/', "__")));
            std::fs::write(file, bytes.as_slice())?;
        }
    }
    Ok(())
}
