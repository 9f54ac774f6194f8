//! Per-channel rate limits and failover between the channels of one audience.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tocsin_model::{Alert, Clock};

use crate::message::{Message, Visibility};
use crate::{Notifier, NotifyError};

/// A token bucket: holds at most `burst` tokens and gains `per_minute` per minute, measured
/// by the injected clock, so tests can drive it without sleeping.
#[derive(Debug)]
pub struct TokenBucket {
    clock: Arc<dyn Clock>,
    burst: f64,
    per_ms: f64,
    state: Mutex<(f64, DateTime<Utc>)>,
}

impl TokenBucket {
    /// A full bucket. `burst` is at least 1 and `per_minute` at least 1.
    pub fn new(clock: Arc<dyn Clock>, per_minute: u32, burst: u32) -> Self {
        let now = clock.now();
        let burst = f64::from(burst.max(1));
        Self {
            clock,
            burst,
            per_ms: f64::from(per_minute.max(1)) / 60_000.0,
            state: Mutex::new((burst, now)),
        }
    }

    /// Takes one token, or says in how many milliseconds the next one will be there.
    pub fn try_take(&self) -> Result<(), u64> {
        let now = self.clock.now();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // A clock that steps back adds nothing rather than removing tokens.
        let elapsed = (now - st.1).num_milliseconds().max(0) as f64;
        st.0 = (st.0 + elapsed * self.per_ms).min(self.burst);
        st.1 = now.max(st.1);
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - st.0) / self.per_ms).ceil() as u64)
        }
    }
}

/// A notifier that refuses (with [`NotifyError::RateLimited`]) once its bucket is empty, so a
/// [`ChannelGroup`] moves on to the next channel.
#[derive(Debug)]
pub struct RateLimited {
    inner: Arc<dyn Notifier>,
    bucket: TokenBucket,
}

impl RateLimited {
    pub fn new(inner: Arc<dyn Notifier>, bucket: TokenBucket) -> Self {
        Self { inner, bucket }
    }

    fn take(&self) -> Result<(), NotifyError> {
        self.bucket
            .try_take()
            .map_err(|ms| NotifyError::RateLimited {
                channel: self.inner.name().to_string(),
                retry_after_ms: ms,
            })
    }
}

#[async_trait]
impl Notifier for RateLimited {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn visibility(&self) -> Visibility {
        self.inner.visibility()
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        self.take()?;
        self.inner.send(m).await
    }
    async fn notify(&self, alert: &Alert, repeat: bool) -> Result<(), NotifyError> {
        self.take()?;
        self.inner.notify(alert, repeat).await
    }
}

/// The channels of one audience in order of preference: a message goes to the first that
/// takes it; when one fails the next is tried.
#[derive(Debug)]
pub struct ChannelGroup {
    name: String,
    channels: Vec<Arc<dyn Notifier>>,
}

impl ChannelGroup {
    pub fn new(name: impl Into<String>, channels: Vec<Arc<dyn Notifier>>) -> Self {
        Self {
            name: name.into(),
            channels,
        }
    }

    /// Delivers `m` and returns the name of the channel that took it.
    pub async fn send_report(&self, m: &Message) -> Result<String, NotifyError> {
        let mut errors = Vec::new();
        for c in &self.channels {
            match c.send(m).await {
                Ok(()) => return Ok(c.name().to_string()),
                Err(e) => {
                    tracing::warn!(group = %self.name, channel = c.name(), error = %e, "channel failed, trying the next");
                    errors.push(e.to_string());
                }
            }
        }
        Err(NotifyError::AllFailed {
            group: self.name.clone(),
            errors,
        })
    }

    /// Like [`Notifier::notify`], each channel redacting for its own visibility; returns the
    /// name of the channel that took it.
    pub async fn notify_report(&self, alert: &Alert, repeat: bool) -> Result<String, NotifyError> {
        let mut errors = Vec::new();
        for c in &self.channels {
            match c.notify(alert, repeat).await {
                Ok(()) => return Ok(c.name().to_string()),
                Err(e) => {
                    tracing::warn!(group = %self.name, channel = c.name(), error = %e, "channel failed, trying the next");
                    errors.push(e.to_string());
                }
            }
        }
        Err(NotifyError::AllFailed {
            group: self.name.clone(),
            errors,
        })
    }
}

#[async_trait]
impl Notifier for ChannelGroup {
    fn name(&self) -> &str {
        &self.name
    }
    /// The most restrictive level of its channels, so no channel shows more than it should.
    fn visibility(&self) -> Visibility {
        self.channels
            .iter()
            .map(|c| c.visibility())
            .max()
            .unwrap_or(Visibility::Public)
    }
    async fn send(&self, m: &Message) -> Result<(), NotifyError> {
        self.send_report(m).await.map(|_| ())
    }
    async fn notify(&self, alert: &Alert, repeat: bool) -> Result<(), NotifyError> {
        self.notify_report(alert, repeat).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use tocsin_model::FakeClock;

    #[test]
    fn bucket_refills_with_the_clock() {
        let clock = FakeClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let b = TokenBucket::new(Arc::new(clock.clone()), 6, 2);
        assert_eq!(b.try_take(), Ok(()));
        assert_eq!(b.try_take(), Ok(()));
        // 6 per minute: one token every 10 s.
        assert_eq!(b.try_take(), Err(10_000));
        clock.advance(Duration::seconds(4));
        assert_eq!(b.try_take(), Err(6_000));
        clock.advance(Duration::seconds(6));
        assert_eq!(b.try_take(), Ok(()));
        assert!(b.try_take().is_err());
        // Never more than the burst, however long it was idle.
        clock.advance(Duration::hours(1));
        assert_eq!(b.try_take(), Ok(()));
        assert_eq!(b.try_take(), Ok(()));
        assert!(b.try_take().is_err());
    }

    #[test]
    fn clock_stepping_back_adds_nothing() {
        let clock = FakeClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let b = TokenBucket::new(Arc::new(clock.clone()), 60, 1);
        assert_eq!(b.try_take(), Ok(()));
        clock.advance(Duration::seconds(-30));
        assert_eq!(b.try_take(), Err(1_000));
    }
}
