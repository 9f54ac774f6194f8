//! The organisation in force, swapped whole on reload, and the enricher that reads it.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tocsin_model::{Enricher, Event};

use crate::{Org, OrgErrors, OrgSummary, load_dir};

/// The organisation in force. Readers take a cheap `Arc` of the current model; a reload builds a
/// new model aside and swaps it in only when every file checks, so a bad file never replaces a
/// good model.
#[derive(Debug)]
pub struct OrgHandle {
    dir: Option<PathBuf>,
    current: RwLock<Arc<Org>>,
    reloads: AtomicU64,
}

impl OrgHandle {
    /// A handle on `org`, reloadable from `dir` when given.
    pub fn new(org: Org, dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            current: RwLock::new(Arc::new(org)),
            reloads: AtomicU64::new(0),
        }
    }

    /// Loads `dir` (a missing folder is an empty organisation).
    pub fn load(dir: PathBuf) -> Result<Self, OrgErrors> {
        let org = load_dir(&dir)?;
        Ok(Self::new(org, Some(dir)))
    }

    pub fn current(&self) -> Arc<Org> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the model (tests, generated organisations).
    pub fn replace(&self, org: Org) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(org);
        self.reloads.fetch_add(1, Ordering::Relaxed);
    }

    /// Re-reads the folder. On error the old model stays in force.
    pub fn reload(&self) -> Result<OrgSummary, OrgErrors> {
        let Some(dir) = &self.dir else {
            return Ok(self.current().summary());
        };
        let org = load_dir(dir)?;
        let summary = org.summary();
        self.replace(org);
        Ok(summary)
    }

    pub fn dir(&self) -> Option<&PathBuf> {
        self.dir.as_ref()
    }

    /// Successful reloads since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }
}

/// What kind of identity could not be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    Badge,
    Account,
    Person,
    Host,
    Ip,
    Asset,
    Portal,
    Site,
    Zone,
}

impl IdentityKind {
    pub const ALL: [IdentityKind; 9] = [
        IdentityKind::Badge,
        IdentityKind::Account,
        IdentityKind::Person,
        IdentityKind::Host,
        IdentityKind::Ip,
        IdentityKind::Asset,
        IdentityKind::Portal,
        IdentityKind::Site,
        IdentityKind::Zone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Badge => "badge",
            IdentityKind::Account => "account",
            IdentityKind::Person => "person",
            IdentityKind::Host => "host",
            IdentityKind::Ip => "ip",
            IdentityKind::Asset => "asset",
            IdentityKind::Portal => "portal",
            IdentityKind::Site => "site",
            IdentityKind::Zone => "zone",
        }
    }
}

/// Most recent unresolved values kept for display.
const RECENT_UNRESOLVED: usize = 50;

/// Counts of identities that events named but the organisation does not know: a data-quality
/// measure (a badge not in the people file, a host missing from the assets).
#[derive(Debug, Default)]
pub struct Unresolved {
    counts: [AtomicU64; 9],
    recent: Mutex<VecDeque<(IdentityKind, String)>>,
}

impl Unresolved {
    fn add(&self, kind: IdentityKind, value: &str) {
        if let Some(c) = self.counts.get(kind as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() >= RECENT_UNRESOLVED {
            recent.pop_front();
        }
        recent.push_back((kind, value.chars().take(128).collect()));
    }

    /// `(kind, count)` for every kind.
    pub fn counts(&self) -> Vec<(IdentityKind, u64)> {
        IdentityKind::ALL
            .iter()
            .map(|k| {
                let n = self
                    .counts
                    .get(*k as usize)
                    .map_or(0, |c| c.load(Ordering::Relaxed));
                (*k, n)
            })
            .collect()
    }

    /// The latest unresolved values, oldest first.
    pub fn recent(&self) -> Vec<(IdentityKind, String)> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Resolves each event's badge, account, person, host, IP, asset, portal, site and zone against the
/// organisation in force, and sets the site's location as the event's geo when it has none.
#[derive(Debug, Clone)]
pub struct OrgEnricher {
    org: Arc<OrgHandle>,
    unresolved: Arc<Unresolved>,
}

impl OrgEnricher {
    pub fn new(org: Arc<OrgHandle>) -> Self {
        Self {
            org,
            unresolved: Arc::default(),
        }
    }

    pub fn unresolved(&self) -> &Arc<Unresolved> {
        &self.unresolved
    }
}

impl Enricher for OrgEnricher {
    fn enrich(&self, e: &mut Event) {
        let org = self.org.current();
        enrich_with(&org, e, &self.unresolved);
    }
}

/// Enrichment against one model; counts what it cannot resolve into `unresolved`.
pub fn enrich_with(org: &Org, e: &mut Event, unresolved: &Unresolved) {
    if org.is_empty() {
        return;
    }
    let mut person = None;
    if let Some(b) = &e.badge {
        person = org.person_by_badge(b);
        if person.is_none() {
            unresolved.add(IdentityKind::Badge, b);
        }
    }
    if person.is_none()
        && let Some(u) = &e.user
    {
        person = org.person_by_account(u);
        if person.is_none() {
            unresolved.add(IdentityKind::Account, u);
        }
    }
    if person.is_none()
        && let Some(p) = &e.person
    {
        person = org.person_by_name(p);
        if person.is_none() {
            unresolved.add(IdentityKind::Person, p);
        }
    }

    let mut asset = None;
    if let Some(a) = &e.asset {
        asset = org.asset_index(a);
        if asset.is_none() {
            unresolved.add(IdentityKind::Asset, a);
        }
    }
    if let Some(h) = &e.host {
        let device_owner = org.device_owner_by_host(h);
        if asset.is_none() {
            asset = org.asset_index(h);
        }
        if person.is_none() && e.user.is_none() {
            person = device_owner;
        }
        if device_owner.is_none() && org.asset_index(h).is_none() {
            unresolved.add(IdentityKind::Host, h);
        }
    }
    if let Some(ip) = &e.ip {
        let device_owner = org.device_owner_by_ip(ip);
        if asset.is_none() {
            asset = org.asset_by_ip(ip);
        }
        if person.is_none() && e.user.is_none() {
            person = device_owner;
        }
        if device_owner.is_none() && org.asset_by_ip(ip).is_none() {
            unresolved.add(IdentityKind::Ip, ip);
        }
    }

    let mut site = None;
    let mut zone = None;
    if let Some(p) = &e.portal {
        match org.portal(p) {
            Some(r) => {
                site = Some(r.site);
                zone = r.zone.map(|z| (r.site, z));
            }
            None => unresolved.add(IdentityKind::Portal, p),
        }
    }
    if zone.is_none()
        && let Some(z) = &e.zone
    {
        zone = org.zone_index(z);
        match zone {
            Some((s, _)) => site = site.or(Some(s)),
            None => unresolved.add(IdentityKind::Zone, z),
        }
    }
    if site.is_none()
        && let Some(s) = &e.site
    {
        site = org.site_index(s);
        if site.is_none() {
            unresolved.add(IdentityKind::Site, s);
        }
    }
    if let Some(a) = asset.and_then(|a| org.assets.get(a)) {
        if site.is_none() {
            site = a.site.as_deref().and_then(|s| org.site_index(s));
        }
        if zone.is_none() {
            zone = a.zone.as_deref().and_then(|z| org.zone_index(z));
        }
    }

    e.person_id = person.and_then(|i| org.people.get(i)).map(|p| p.id.clone());
    e.asset_id = asset.and_then(|i| org.assets.get(i)).map(|a| a.id.clone());
    let site_ref = site.and_then(|i| org.sites.get(i));
    e.site_id = site_ref.map(|s| s.id.clone());
    e.zone_id = zone.and_then(|z| org.zone(z)).map(|z| z.id.clone());
    if e.geo.is_none()
        && let Some(s) = site_ref
    {
        let mut g = s.location.clone();
        if let Some(f) = &s.geofence {
            g.radius_m = f.radius_m;
            g.polygon = f.polygon.clone();
        }
        e.geo = Some(g);
    }
}
