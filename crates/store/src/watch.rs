//! Watch streams, shared by every backend.
//!
//! A backend publishes each committed batch of events on a bounded broadcast
//! feed (sending never blocks the writer) and can read its event log back.
//! A watch keeps a cursor = the highest revision it has accounted for, and
//! takes events from the log until it reaches the present, then from the feed.
//! Whatever it misses on the feed (it lagged and the ring buffer overwrote
//! events, or it subscribed in the middle of a batch) shows up as a gap in
//! revisions, and the gap is read back from the log. Every revision has
//! exactly one event, so "next revision != cursor + 1" is a reliable gap test,
//! and "revision <= cursor" a reliable duplicate test.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::broadcast;

use crate::{Event, Result, Revision, WatchStream};

/// Events of one committed write batch, in revision order, consecutive.
pub(crate) type Batch = Arc<Vec<Event>>;

/// How many batches the live feed buffers before a slow watcher lags.
pub(crate) const FEED_CAPACITY: usize = 1024;

/// How many events a catch-up read takes from the log at once.
const CATCH_UP_PAGE: usize = 512;

/// A slice of the event log.
pub(crate) struct LogPage {
    /// Matching events, in revision order.
    pub events: Vec<Event>,
    /// The read accounted for every revision up to here.
    pub scanned_to: Revision,
    /// The read reached the store's revision at the time of the read.
    pub complete: bool,
}

impl LogPage {
    /// Builds a page from matching events read up to `store_revision`,
    /// when at most `limit` events were asked for.
    pub(crate) fn new(events: Vec<Event>, limit: usize, store_revision: Revision) -> Self {
        if events.len() >= limit {
            let scanned_to = events
                .last()
                .map(|e| e.kv.mod_revision)
                .unwrap_or(store_revision);
            LogPage {
                events,
                scanned_to,
                complete: false,
            }
        } else {
            LogPage {
                events,
                scanned_to: store_revision,
                complete: true,
            }
        }
    }
}

/// Read access to a backend's stored history.
#[async_trait]
pub(crate) trait EventLog: Send + Sync + 'static {
    /// Up to `limit` events for keys under `prefix` with revision > `after`,
    /// in revision order. `Compacted` when `after` < the compacted revision.
    async fn events_after(&self, prefix: &str, after: Revision, limit: usize) -> Result<LogPage>;
}

/// Starts a watch. `feed` must have been subscribed before this call so that
/// nothing committed after the first log read can be missed.
pub(crate) async fn start_watch(
    log: Arc<dyn EventLog>,
    feed: broadcast::Receiver<Batch>,
    prefix: &str,
    after_revision: Revision,
) -> Result<WatchStream> {
    let mut state = WatchState {
        log,
        feed,
        prefix: prefix.to_owned(),
        cursor: after_revision,
        buffer: VecDeque::new(),
        catch_up: true,
        finished: false,
    };
    // The first read happens here so that a compacted start revision is an
    // error of `watch()` itself rather than of the first stream item.
    let page = state
        .log
        .events_after(&state.prefix, state.cursor, CATCH_UP_PAGE)
        .await?;
    state.apply_page(page);
    let stream = futures::stream::unfold(state, |mut state| async move {
        let item = state.next_item().await?;
        Some((item, state))
    });
    Ok(stream.boxed())
}

struct WatchState {
    log: Arc<dyn EventLog>,
    feed: broadcast::Receiver<Batch>,
    prefix: String,
    /// Every revision <= cursor has been delivered (if it matched) or skipped.
    cursor: Revision,
    buffer: VecDeque<Event>,
    /// The next events must come from the log, not the feed.
    catch_up: bool,
    finished: bool,
}

impl WatchState {
    async fn next_item(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some(Ok(event));
            }
            if self.finished {
                return None;
            }
            if self.catch_up {
                match self
                    .log
                    .events_after(&self.prefix, self.cursor, CATCH_UP_PAGE)
                    .await
                {
                    Ok(page) => self.apply_page(page),
                    Err(err) => {
                        self.finished = true;
                        return Some(Err(err));
                    }
                }
                continue;
            }
            match self.feed.recv().await {
                Ok(batch) => self.apply_batch(&batch),
                Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up = true,
                // The store was dropped: nothing more will ever come.
                Err(broadcast::error::RecvError::Closed) => self.finished = true,
            }
        }
    }

    fn apply_page(&mut self, page: LogPage) {
        self.buffer.extend(page.events);
        // A watch may start in the future; never move the cursor backwards.
        self.cursor = self.cursor.max(page.scanned_to);
        self.catch_up = !page.complete;
    }

    fn apply_batch(&mut self, batch: &[Event]) {
        for event in batch {
            let revision = event.kv.mod_revision;
            if revision <= self.cursor {
                continue;
            }
            if revision != self.cursor + 1 {
                // Missed something: the log has it (it is committed).
                self.catch_up = true;
                return;
            }
            self.cursor = revision;
            if event.kv.key.starts_with(&self.prefix) {
                self.buffer.push_back(event.clone());
            }
        }
    }
}
