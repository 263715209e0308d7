//! A client-side request rate limit, as client-go's token bucket
//! (`--kube-api-qps` / `--kube-api-burst`): every request, watches included,
//! takes a token; tokens refill at `qps` up to `burst`.
//!
//! Why: the controllers and the scheduler share one API server. Unthrottled,
//! ReplicaSets creating pods for 500 Deployments at once fill the server's
//! queue and the scheduler's bindings wait behind them (berth-sim at 150,000
//! pods: scheduling fell to 30 pods/s while pods were created at 350/s).
//!
//! ```text
//!  kube Buffer ─▶ poll_ready: token? ──yes──▶ inner.poll_ready ─▶ call
//!                      │ no
//!                      └─▶ sleep until one refills, then again
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// The bucket: `tokens` refill at `qps` per second, capped at `burst`.
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    /// A full bucket. `qps` must be positive; `burst` is at least 1.
    pub fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            qps,
            burst,
            tokens: burst,
            refilled: Instant::now(),
        }
    }

    /// Take one token, or say how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.qps))
        }
    }
}

#[derive(Clone)]
pub struct QpsLimitLayer {
    bucket: Arc<Mutex<TokenBucket>>,
}

impl QpsLimitLayer {
    pub fn new(qps: f64, burst: u32) -> Self {
        QpsLimitLayer {
            bucket: Arc::new(Mutex::new(TokenBucket::new(qps, burst))),
        }
    }
}

impl<S> Layer<S> for QpsLimitLayer {
    type Service = QpsLimit<S>;
    fn layer(&self, inner: S) -> QpsLimit<S> {
        QpsLimit {
            inner,
            bucket: self.bucket.clone(),
            sleep: None,
            has_token: false,
        }
    }
}

pub struct QpsLimit<S> {
    inner: S,
    bucket: Arc<Mutex<TokenBucket>>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// A token was taken for the next `call`.
    has_token: bool,
}

impl<S, R> Service<R> for QpsLimit<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        while !self.has_token {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            let taken = self
                .bucket
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(Instant::now());
            match taken {
                Ok(()) => self.has_token = true,
                Err(wait) => self.sleep = Some(Box::pin(tokio::time::sleep(wait))),
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.has_token = false;
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_gives_its_burst_then_refills_at_qps() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 3);
        for _ in 0..3 {
            assert_eq!(bucket.take(start), Ok(()));
        }
        let wait = bucket.take(start).expect_err("empty after the burst");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        // 250 ms later two tokens are back (10/s), not three.
        let later = start + Duration::from_millis(250);
        assert_eq!(bucket.take(later), Ok(()));
        assert_eq!(bucket.take(later), Ok(()));
        assert!(bucket.take(later).is_err());
        // Never more than the burst, however long it rested.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.take(much_later), Ok(()));
        }
        assert!(bucket.take(much_later).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_burst_wait_for_tokens() {
        use tower::ServiceExt;
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = counter.clone();
        let inner = tower::service_fn(move |_: ()| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(()) }
        });
        let mut svc = QpsLimitLayer::new(5.0, 2).layer(inner);
        let start = Instant::now();
        for _ in 0..7 {
            svc.ready()
                .await
                .expect("ready")
                .call(())
                .await
                .expect("call");
        }
        // 2 at once, then 5 more at 5/s: one second of (paused) time.
        let took = start.elapsed();
        assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), 7);
        assert!(
            took >= Duration::from_millis(990) && took < Duration::from_millis(1100),
            "{took:?}"
        );
    }
}
