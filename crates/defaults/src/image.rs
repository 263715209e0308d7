//! Image pull policy default: `Always` when the reference resolves to the
//! `latest` tag (explicitly, or by naming neither tag nor digest), otherwise
//! `IfNotPresent`. A reference that does not parse counts as "no tag", which
//! upstream also maps to `IfNotPresent`, leaving validation to complain.

/// The pull policy Kubernetes gives a container using `image`.
pub fn default_pull_policy(image: &str) -> &'static str {
    match parse_tag(image) {
        Some(Tag::Latest) => "Always",
        _ => "IfNotPresent",
    }
}

enum Tag {
    /// `:latest`, or neither a tag nor a digest.
    Latest,
    /// Some other tag, or a digest without a tag.
    Other,
}

/// The tag an image reference resolves to, or `None` when it does not parse.
fn parse_tag(image: &str) -> Option<Tag> {
    if image.is_empty() || image.chars().any(|c| c.is_whitespace()) {
        return None;
    }
    // A bare 64-hex string is an image ID, which the reference grammar rejects.
    if image.len() == 64 && image.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        if !valid_digest(d) {
            return None;
        }
    }
    // A ':' after the last '/' separates the tag; one before it is a registry port.
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name_and_tag[..at], Some(&name_and_tag[at + 1..]))
        }
        None => (name_and_tag, None),
    };
    if !valid_name(name) {
        return None;
    }
    match tag {
        Some(t) if !valid_tag(t) => None,
        Some("latest") => Some(Tag::Latest),
        Some(_) => Some(Tag::Other),
        None if digest.is_some() => Some(Tag::Other),
        None => Some(Tag::Latest),
    }
}

/// Repository path components must be lowercase; the registry host may not be.
fn valid_name(name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let mut path: Vec<&str> = name.split('/').collect();
    // Same rule as the Docker reference parser: a first component is a
    // registry host when it looks like one (has '.', ':' or uppercase, or is
    // "localhost") and more components follow.
    let first = path[0];
    let first_is_host = path.len() > 1
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    if first_is_host {
        path.remove(0);
    }
    !path.is_empty()
        && path.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && p.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm:hex` with a plausible algorithm and at least 32 hex chars.
fn valid_digest(digest: &str) -> bool {
    match digest.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'_' | b'-'))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::default_pull_policy as p;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn latest_or_untagged_pulls_always() {
        assert_eq!(p("nginx"), "Always");
        assert_eq!(p("nginx:latest"), "Always");
        assert_eq!(p("docker.io/library/nginx"), "Always");
        assert_eq!(p("localhost:5000/team/app"), "Always");
        assert_eq!(p("localhost:5000/team/app:latest"), "Always");
    }

    #[test]
    fn tags_and_digests_pull_if_not_present() {
        assert_eq!(p("nginx:1.27"), "IfNotPresent");
        assert_eq!(p("localhost:5000/app:v2"), "IfNotPresent");
        assert_eq!(p(&format!("nginx@{SHA}")), "IfNotPresent");
        assert_eq!(p(&format!("nginx:latest@{SHA}")), "Always");
        assert_eq!(p(&format!("nginx:1.0@{SHA}")), "IfNotPresent");
    }

    #[test]
    fn unparsable_references_pull_if_not_present() {
        assert_eq!(p(""), "IfNotPresent");
        assert_eq!(p("Nginx"), "IfNotPresent");
        assert_eq!(p("nginx:"), "IfNotPresent");
        assert_eq!(p("ngi nx"), "IfNotPresent");
        assert_eq!(p("nginx@sha256:xyz"), "IfNotPresent");
        assert_eq!(p("MyRegistry.io/app"), "Always");
    }
}
