//! The public-signal detector kept in step with the organisation: sites and travellers are
//! measured against the model in force, re-read after every reload and every few minutes of
//! ingest time (trips start and end while the server runs).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tocsin_detect::{Detection, Detector, DetectorStats};
use tocsin_model::Event;
use tocsin_org::OrgHandle;
use tocsin_public::{PublicSignalConfig, PublicSignalDetector};

/// How often travellers are re-read when the organisation does not change.
pub const REFRESH: Duration = Duration::minutes(5);

/// [`PublicSignalDetector`] whose targets follow the organisation model.
pub struct OrgPublicDetector {
    inner: PublicSignalDetector,
    org: Arc<OrgHandle>,
    /// The configured targets, to which the organisation's are added.
    base: PublicSignalConfig,
    reloads: u64,
    refreshed: DateTime<Utc>,
}

impl OrgPublicDetector {
    pub fn new(
        base: PublicSignalConfig,
        org: Arc<OrgHandle>,
        now: DateTime<Utc>,
    ) -> Result<Self, tocsin_public::detector::DetectorError> {
        let mut cfg = base.clone();
        let (sites, travellers) = public_targets(&org.current(), now);
        cfg.sites.extend(sites);
        cfg.travellers.extend(travellers);
        Ok(Self {
            inner: PublicSignalDetector::new(cfg)?,
            reloads: org.reloads(),
            org,
            base,
            refreshed: now,
        })
    }

    /// The travellers measured against now.
    pub fn travellers(&self) -> &[tocsin_public::TravellerRef] {
        &self.inner.config().travellers
    }

    fn refresh(&mut self, now: DateTime<Utc>) {
        let reloads = self.org.reloads();
        if reloads == self.reloads && now - self.refreshed < REFRESH && now >= self.refreshed {
            return;
        }
        let (sites, travellers) = public_targets(&self.org.current(), now);
        let mut all_sites = self.base.sites.clone();
        all_sites.extend(sites);
        let mut all_travellers = self.base.travellers.clone();
        all_travellers.extend(travellers);
        self.inner
            .set_targets(all_sites, all_travellers, self.base.watch.clone());
        self.reloads = reloads;
        self.refreshed = now;
    }
}

impl Detector for OrgPublicDetector {
    fn id(&self) -> &'static str {
        self.inner.id()
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Detection>) {
        if event.domain == tocsin_model::Domain::Public {
            self.refresh(event.ingested);
        }
        self.inner.on_event(event, out);
    }

    fn stats(&self) -> DetectorStats {
        self.inner.stats()
    }
}

/// The organisation's sites (with their geofence radius) and the people travelling right now,
/// as the public-signal detector measures distances to them.
pub fn public_targets(
    org: &tocsin_org::Org,
    now: chrono::DateTime<chrono::Utc>,
) -> (
    Vec<tocsin_public::SiteRef>,
    Vec<tocsin_public::TravellerRef>,
) {
    let sites = org
        .sites
        .iter()
        .map(|s| tocsin_public::SiteRef {
            id: s.id.clone(),
            name: s.name.clone(),
            lat: s.location.lat,
            lon: s.location.lon,
            radius_m: s
                .geofence
                .as_ref()
                .and_then(|g| g.radius_m)
                .unwrap_or(500.0),
        })
        .collect();
    let travellers = org
        .people
        .iter()
        .flat_map(|p| {
            p.travel
                .iter()
                .filter(move |t| t.from <= now && now <= t.until)
                .map(move |t| tocsin_public::TravellerRef {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    lat: t.location.lat,
                    lon: t.location.lon,
                })
        })
        .collect();
    (sites, travellers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn travellers_follow_the_clock_and_reloads() {
        let org = Arc::new(OrgHandle::new(crate::demo::demo_org().unwrap(), None));
        let cfg = crate::demo::demo_config()
            .unwrap()
            .public_signal
            .expect("the demo enables public signals");
        let on_trip = |d: &OrgPublicDetector| !d.travellers().is_empty();
        // Find a moment with a traveller and one without, from the demo's trips.
        let current = org.current();
        let trip = current
            .people
            .iter()
            .flat_map(|p| p.travel.iter())
            .next()
            .expect("the demo has a trip");
        let before = trip.from - Duration::days(30);
        let during = trip.from + (trip.until - trip.from) / 2;

        let mut d = OrgPublicDetector::new(cfg, org.clone(), before).unwrap();
        let travellers_before = d.travellers().len();
        let ev = |at: DateTime<Utc>| {
            let ctx = tocsin_model::IngestContext {
                source: "t",
                tenant: "default",
                domain: None,
                ingested: at,
                id: ulid::Ulid::new(),
                limits: tocsin_model::Limits::default(),
            };
            Event::from_value(
                serde_json::json!({"time": at, "domain": "public", "class": "public_report",
                    "message": "quiet day"}),
                &ctx,
            )
            .unwrap()
        };
        let mut out = Vec::new();
        d.on_event(&ev(during), &mut out);
        assert!(on_trip(&d), "the trip started while running");
        assert!(d.travellers().len() > travellers_before);

        // A reload without those people clears them at once, without waiting for the refresh.
        org.replace(tocsin_org::Org::default());
        d.on_event(&ev(during + Duration::seconds(1)), &mut out);
        assert!(!on_trip(&d), "the reload removed every trip");
    }
}
