//! Image reference checks the kubelet makes before pulling
//! (`applyDefaultImageTag` over the distribution reference grammar).

use std::sync::LazyLock;

use regex::Regex;

use crate::error::SpecError;

const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// The distribution/reference grammar: `[domain[:port]/]path[:tag][@digest]`.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let alnum = "[a-z0-9]+";
    let separator = "(?:[._]|__|[-]+)";
    let path_component = format!("{alnum}(?:{separator}{alnum})*");
    let domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let domain_name = format!(r"{domain_component}(?:\.{domain_component})*");
    let host = format!(r"(?:{domain_name}|\[(?:[a-fA-F0-9:]+)\])");
    let domain = format!(r"{host}(?::[0-9]+)?");
    let name = format!(r"(?:{domain}/)?{path_component}(?:/{path_component})*");
    // Go's `\w` is ASCII-only; Rust's is Unicode (and its DFA ~10 MB).
    let tag = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
    let digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";
    let pattern = format!(r"^({name})(?::({tag}))?(?:@({digest}))?$");
    // The pattern is a constant built above; failing to compile is a programming error.
    #[allow(clippy::expect_used)]
    Regex::new(&pattern).expect("reference grammar compiles")
});

/// A bare 64-hex string looks like an image ID, which is refused as a name.
fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Splits off the registry the way the Docker CLI normalises names, adding
/// `docker.io/library/` for short names.
fn split_docker_domain(name: &str) -> (String, String) {
    let (domain, mut remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    if domain == "docker.io" && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    (domain, remainder)
}

fn check_digest(digest: &str) -> Result<(), String> {
    let Some((alg, hex)) = digest.split_once(':') else {
        return Err("invalid checksum digest format".into());
    };
    let size = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm".into()),
    };
    if hex.len() != size {
        return Err("invalid checksum digest length".into());
    }
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err("invalid checksum digest format".into());
    }
    Ok(())
}

/// Parsed pieces of a normalised reference.
struct Normalized {
    tagged: bool,
    digested: bool,
}

/// `reference.ParseNormalizedNamed`, returning its error text.
fn parse_normalized(s: &str) -> Result<Normalized, String> {
    if is_hex64(s) {
        return Err(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = remainder
        .split_once(':')
        .map_or(remainder.as_str(), |(r, _)| r);
    if remote.to_lowercase() != remote {
        return Err(format!(
            "invalid reference format: repository name ({remote}) must be lowercase"
        ));
    }
    let full = format!("{domain}/{remainder}");
    let Some(caps) = REFERENCE.captures(&full) else {
        if REFERENCE.is_match(&full.to_lowercase()) {
            return Err("invalid reference format: repository name must be lowercase".into());
        }
        return Err("invalid reference format".into());
    };
    if caps.get(1).map_or(0, |m| m.as_str().len()) > NAME_TOTAL_LENGTH_MAX {
        return Err(format!(
            "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        ));
    }
    if let Some(d) = caps.get(3) {
        check_digest(d.as_str())?;
    }
    Ok(Normalized {
        tagged: caps.get(2).is_some(),
        digested: caps.get(3).is_some(),
    })
}

/// The kubelet's `applyDefaultImageTag`: checks the reference and appends
/// `:latest` when it has neither tag nor digest (without adding a registry).
/// A bad reference is `InvalidImageName` with the kubelet's message.
pub fn apply_default_image_tag(image: &str) -> Result<String, SpecError> {
    match parse_normalized(image) {
        Ok(n) if n.tagged || n.digested => Ok(image.to_string()),
        Ok(_) => Ok(format!("{image}:latest")),
        Err(e) => Err(SpecError::InvalidImageName(format!(
            "Failed to apply default image tag {image:?}: couldn't parse image name {image:?}: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tags() {
        let ok: &[(&str, &str)] = &[
            ("nginx", "nginx:latest"),
            ("nginx:1.14.2", "nginx:1.14.2"),
            ("library/busybox", "library/busybox:latest"),
            ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
            (
                "127.0.0.1:5000/berth/app",
                "127.0.0.1:5000/berth/app:latest",
            ),
            ("localhost/app:v1", "localhost/app:v1"),
            (
                "busybox@sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa",
                "busybox@sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa",
            ),
            (
                "Registry.Example.com/app",
                "Registry.Example.com/app:latest",
            ),
            ("quay.io/a/b/c-d__e.f:TAG_1", "quay.io/a/b/c-d__e.f:TAG_1"),
        ];
        for (input, want) in ok {
            assert_eq!(
                apply_default_image_tag(input).as_deref(),
                Ok(*want),
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_names_carry_kubelet_message() {
        let bad: &[(&str, &str)] = &[
            ("Nginx", "invalid reference format: repository name (library/Nginx) must be lowercase"),
            ("nginx:", "invalid reference format"),
            ("nginx::1", "invalid reference format"),
            // Go's \w in the tag grammar is ASCII: a Unicode letter is not a tag.
            ("nginx:vé", "invalid reference format"),
            ("-nginx", "invalid reference format"),
            ("nginx@sha256:abc", "invalid reference format"),
            ("nginx@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm"),
            ("", "invalid reference format"),
            (
                "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa",
                "invalid repository name (7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa), cannot specify 64-byte hexadecimal strings",
            ),
        ];
        for (input, cause) in bad {
            let err = apply_default_image_tag(input).err();
            let want = format!("Failed to apply default image tag {input:?}: couldn't parse image name {input:?}: {cause}");
            assert_eq!(err, Some(SpecError::InvalidImageName(want)), "{input}");
        }
        let long = format!("a/{}", "b".repeat(300));
        let err = apply_default_image_tag(&long)
            .err()
            .map(|e| e.message().to_string());
        assert!(err
            .is_some_and(|m| m.ends_with("repository name must not be more than 255 characters")));
    }
}
