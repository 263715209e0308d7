//! Reading a whole prefix in pages, for callers that need every key under it
//! (expiring events, deleting a namespace) without holding one huge response.

use crate::{KeyValue, ListOptions, Result, Revision, Store};

/// Keys per page.
const PAGE: usize = 1000;

/// Hand every key under `prefix` to `each`, in key order, all as of one
/// revision (the first page's); returns that revision.
pub async fn scan(
    store: &dyn Store,
    prefix: &str,
    mut each: impl FnMut(KeyValue),
) -> Result<Revision> {
    let mut start_after = None;
    let mut at = None;
    loop {
        let page = store
            .list(ListOptions {
                prefix: prefix.to_string(),
                start_after: start_after.take(),
                limit: Some(PAGE),
                revision: at,
                skip_remaining_count: true,
            })
            .await?;
        at = Some(page.revision);
        let more = page.more;
        for kv in page.items {
            start_after = Some(kv.key.clone());
            each(kv);
        }
        if !more || start_after.is_none() {
            return Ok(page.revision);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[tokio::test]
    async fn every_key_under_the_prefix_once_in_order_across_pages() {
        let store = MemoryStore::new();
        for i in 0..2500 {
            store
                .create(&format!("/a/{i:05}"), b"x".to_vec())
                .await
                .expect("create");
        }
        store
            .create("/b/other", b"x".to_vec())
            .await
            .expect("create");
        let mut keys = Vec::new();
        let rev = scan(&store, "/a/", |kv| keys.push(kv.key))
            .await
            .expect("scan");
        assert_eq!(keys.len(), 2500);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|k| k.starts_with("/a/")));
        assert!(rev > 0);
    }
}
