//! Compiles the small C programs in `c/` into static, stripped executables in
//! OUT_DIR; the library embeds them with `include_bytes!` so berth can build
//! its images with no compiler or other tool at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAMS: &[&str] = &["pause", "echo", "init"];

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // CC lets a cross build point at a matching compiler; gcc is on every machine here.
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".to_string());
    println!("cargo:rerun-if-env-changed=CC");
    for program in PROGRAMS {
        let source = Path::new("c").join(format!("{program}.c"));
        println!("cargo:rerun-if-changed={}", source.display());
        compile(&cc, &source, &out_dir.join(program));
    }
}

fn compile(cc: &str, source: &Path, output: &Path) {
    let status = Command::new(cc)
        .args(["-static", "-Os", "-s", "-std=gnu11", "-Wall", "-Wextra"])
        // No build id: the same source gives the same bytes, so image digests stay put.
        .arg("-Wl,--build-id=none")
        .arg("-o")
        .arg(output)
        .arg(source)
        .status()
        .unwrap_or_else(|e| panic!("cannot run C compiler `{cc}`: {e}"));
    assert!(
        status.success(),
        "`{cc} -static` failed for {} (needs the static C library, Debian package libc6-dev)",
        source.display()
    );
}
