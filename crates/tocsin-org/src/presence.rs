//! The presence book: where each person is, from their badge events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tocsin_model::Event;

use crate::{Org, PortalRole};

/// Most sites remembered per person per day.
const MAX_SITES_PER_DAY: usize = 16;

/// Badge activities that mean the holder went through.
pub const PASSAGE_ACTIVITIES: [&str; 4] = ["granted", "entry", "exit", "access_granted"];

/// A person's whereabouts as the badge system last saw them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Presence {
    pub person_id: String,
    /// The site of the last passage.
    pub site_id: Option<String>,
    /// The zone entered last, while inside.
    pub zone_id: Option<String>,
    /// Inside the site (true) or badged out (false).
    pub inside: bool,
    /// Since when this site, zone and in/out hold.
    pub since: DateTime<Utc>,
    /// Event time of the last passage.
    pub last_seen: DateTime<Utc>,
    /// The portal of the last passage.
    pub portal: Option<String>,
    /// The event of the last passage, for evidence.
    pub event_id: ulid::Ulid,
    /// The day (UTC) `sites_today` is about.
    pub day: NaiveDate,
    /// Sites badged into on `day`.
    pub sites_today: Vec<String>,
}

impl Presence {
    /// Whether the person badged into `site` on `day`.
    pub fn badged_into_on(&self, site: &str, day: NaiveDate) -> bool {
        self.day == day && self.sites_today.iter().any(|s| s == site)
    }
}

/// What one badge event changed.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceChange {
    pub before: Option<Presence>,
    pub after: Presence,
    pub role: PortalRole,
}

/// Whereabouts of up to `cap` people; past the cap the person seen least recently is dropped
/// (and counted).
#[derive(Debug)]
pub struct PresenceBook {
    cap: usize,
    map: HashMap<String, (Presence, u64)>,
    /// `(person, sequence)` in update order; stale pairs are skipped on eviction.
    order: VecDeque<(String, u64)>,
    seq: u64,
    evicted: u64,
    late: u64,
}

/// The book as shared between the detect stage and the API.
pub type SharedPresence = Arc<Mutex<PresenceBook>>;

impl PresenceBook {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
            evicted: 0,
            late: 0,
        }
    }

    pub fn shared(cap: usize) -> SharedPresence {
        Arc::new(Mutex::new(Self::new(cap)))
    }

    pub fn get(&self, person_id: &str) -> Option<&Presence> {
        self.map.get(person_id).map(|(p, _)| p)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// People dropped because the cap was reached.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Badge events older than the person's last passage, not applied.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Applies an enriched event. Only passages (granted badge events with a resolved person at a
    /// known portal or site) change the book.
    pub fn observe(&mut self, org: &Org, e: &Event) -> Option<PresenceChange> {
        if e.class != "physical_access" {
            return None;
        }
        let activity = e.activity.as_deref()?;
        if !PASSAGE_ACTIVITIES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(activity))
        {
            return None;
        }
        let person = e.person_id.as_deref()?;
        let portal = e.portal.as_deref().and_then(|p| org.portal(p));
        let role = if activity.eq_ignore_ascii_case("exit") {
            PortalRole::Exit
        } else {
            portal.map_or(PortalRole::Internal, |p| p.role)
        };
        let site_id = e.site_id.clone()?;
        let inside = role != PortalRole::Exit;
        let zone_id = if inside { e.zone_id.clone() } else { None };
        let day = e.time.date_naive();

        let before = self.get(person).cloned();
        if let Some(b) = &before
            && e.time < b.last_seen
        {
            self.late += 1;
            return None;
        }
        let mut after = before.clone().unwrap_or_else(|| Presence {
            person_id: person.to_owned(),
            site_id: None,
            zone_id: None,
            inside: false,
            since: e.time,
            last_seen: e.time,
            portal: None,
            event_id: e.id,
            day,
            sites_today: Vec::new(),
        });
        let moved = after.site_id.as_deref() != Some(site_id.as_str())
            || after.zone_id != zone_id
            || after.inside != inside;
        if moved || before.is_none() {
            after.since = e.time;
        }
        if after.day != day {
            after.day = day;
            after.sites_today.clear();
        }
        if inside
            && !after.sites_today.contains(&site_id)
            && after.sites_today.len() < MAX_SITES_PER_DAY
        {
            after.sites_today.push(site_id.clone());
        }
        after.site_id = Some(site_id);
        after.zone_id = zone_id;
        after.inside = inside;
        after.last_seen = e.time;
        after.portal = e.portal.clone();
        after.event_id = e.id;
        self.put(after.clone());
        Some(PresenceChange {
            before,
            after,
            role,
        })
    }

    fn put(&mut self, p: Presence) {
        self.seq += 1;
        let seq = self.seq;
        self.order.push_back((p.person_id.clone(), seq));
        self.map.insert(p.person_id.clone(), (p, seq));
        while self.map.len() > self.cap {
            let Some((id, s)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&id).is_some_and(|(_, cur)| *cur == s) {
                self.map.remove(&id);
                self.evicted += 1;
            }
        }
        // Repeated updates leave stale pairs behind; compact before they outgrow the book.
        if self.order.len() > self.cap.saturating_mul(2).max(64) {
            let map = &self.map;
            self.order
                .retain(|(id, s)| map.get(id).is_some_and(|(_, cur)| cur == s));
        }
    }
}
