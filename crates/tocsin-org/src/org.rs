//! The checked, indexed organisation. Every lookup the pipeline makes per event is one hash probe
//! (one per distinct prefix length for networks).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use tocsin_model::Geo;

use crate::geoip::{Cidr, NetTable};
use crate::load::{
    ASSETS_FILE, NETWORK_FILE, OrgFiles, OrgSources, PEOPLE_FILE, SITES_FILE, TEAMS_FILE,
    line_after, line_of,
};
use crate::model::{
    Asset, AssetKind, Country, Network, Person, Site, State, Team, TravelSegment, Zone,
};
use crate::{OrgError, OrgErrors};

/// Where a portal (door, gate, turnstile or reader) is and what crossing it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalRef {
    pub site: usize,
    pub zone: Option<usize>,
    pub role: PortalRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalRole {
    /// On the perimeter, leading in.
    Entrance,
    /// On the perimeter, leading out.
    Exit,
    /// Inside the site, leading into a zone.
    Internal,
}

/// Where a network is.
#[derive(Debug, Clone)]
pub struct NetPlace {
    pub site: Option<usize>,
    pub place: String,
    pub country: Option<String>,
    pub location: Geo,
}

/// The organisation, checked and indexed. Built by [`crate::load_dir`] or [`Org::build`].
#[derive(Debug, Default)]
pub struct Org {
    pub sites: Vec<Site>,
    pub people: Vec<Person>,
    pub assets: Vec<Asset>,
    pub teams: Vec<Team>,
    pub countries: Vec<Country>,
    pub networks: Vec<Network>,
    site_by_name: HashMap<String, usize>,
    zone_by_id: HashMap<String, (usize, usize)>,
    portals: HashMap<String, PortalRef>,
    person_by_id: HashMap<String, usize>,
    person_by_name: HashMap<String, usize>,
    person_by_badge: HashMap<String, usize>,
    person_by_account: HashMap<String, usize>,
    device_by_host: HashMap<String, usize>,
    device_by_ip: HashMap<IpAddr, usize>,
    asset_by_name: HashMap<String, usize>,
    asset_by_ip: HashMap<IpAddr, usize>,
    assets_by_zone: HashMap<(usize, usize), Vec<usize>>,
    assets_by_site: HashMap<usize, Vec<usize>>,
    assets_by_product: HashMap<(String, String), Vec<usize>>,
    team_by_id: HashMap<String, usize>,
    country_by_code: HashMap<String, usize>,
    net: NetTable<NetPlace>,
}

/// Lower-cases only when needed, so the common all-lower lookup does not allocate.
fn key(s: &str) -> std::borrow::Cow<'_, str> {
    let t = s.trim();
    if t.bytes().any(|b| b.is_ascii_uppercase()) || !t.is_ascii() {
        std::borrow::Cow::Owned(t.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(t)
    }
}

/// Vendor and product names compared the way CPE writes them: lower case, `_` for spaces.
pub fn product_key(s: &str) -> String {
    s.trim().to_lowercase().replace([' ', '-'], "_")
}

/// The bare user of `DOMAIN\user` or `user@domain`, lower-cased.
pub fn bare_account(s: &str) -> String {
    let s = s.trim();
    let s = s.rsplit('\\').next().unwrap_or(s);
    let s = s.split('@').next().unwrap_or(s);
    s.to_lowercase()
}

struct Checker<'a> {
    src: Option<&'a OrgSources>,
    errors: Vec<OrgError>,
}

impl Checker<'_> {
    /// Records an error about item `item_id` of `file`, pointing at the line where `key` is
    /// `value` below the item's `id` line.
    fn err(
        &mut self,
        file: &str,
        item_id: &str,
        field: String,
        key: &str,
        value: &str,
        msg: String,
    ) {
        let (path, line) = match self.src {
            Some(src) => {
                let text = src.text(file);
                let item = line_of(text, "id", item_id).unwrap_or(0);
                let line = line_after(text, item, key, value).or((item > 0).then_some(item));
                (src.path(file), line)
            }
            None => (PathBuf::from(file), None),
        };
        self.errors.push(OrgError {
            file: path,
            line,
            field: Some(field),
            message: msg,
        });
    }
}

impl Org {
    /// An organisation with nothing in it: enrichment resolves nothing and counts nothing.
    pub fn empty() -> Org {
        Org::default()
    }

    /// Checks the parsed files against each other and builds the indexes. `src` gives the texts
    /// for line numbers; without it errors name only file and field.
    pub fn build(files: OrgFiles, src: Option<&OrgSources>) -> Result<Org, OrgErrors> {
        let mut c = Checker {
            src,
            errors: Vec::new(),
        };
        let mut org = Org {
            sites: files.sites.sites,
            people: files.people.people,
            assets: files.assets.assets,
            teams: files.teams.teams,
            countries: files.network.countries,
            networks: files.network.networks,
            ..Org::default()
        };

        for (si, s) in org.sites.iter().enumerate() {
            if let Err(m) = s.location.validate(0) {
                c.err(
                    SITES_FILE,
                    &s.id,
                    format!("sites[{si}].location"),
                    "lat",
                    "",
                    m,
                );
            }
            if let Some(g) = &s.geofence {
                let mut geo = s.location.clone();
                geo.radius_m = g.radius_m;
                geo.polygon = g.polygon.clone();
                if let Err(m) = geo.validate(10_000) {
                    c.err(
                        SITES_FILE,
                        &s.id,
                        format!("sites[{si}].geofence"),
                        "geofence",
                        "",
                        m,
                    );
                }
            }
            for name in std::iter::once(&s.id).chain(&s.aliases) {
                if org
                    .site_by_name
                    .insert(key(name).into_owned(), si)
                    .is_some()
                {
                    c.err(
                        SITES_FILE,
                        &s.id,
                        format!("sites[{si}]"),
                        "id",
                        name,
                        format!("site id or alias {name:?} is used twice"),
                    );
                }
            }
            for (zi, z) in s.zones.iter().enumerate() {
                if org
                    .zone_by_id
                    .insert(key(&z.id).into_owned(), (si, zi))
                    .is_some()
                {
                    c.err(
                        SITES_FILE,
                        &s.id,
                        format!("sites[{si}].zones[{zi}].id"),
                        "id",
                        &z.id,
                        format!("zone id {:?} is used twice", z.id),
                    );
                }
                for p in z.portals.iter().chain(&z.readers) {
                    let r = PortalRef {
                        site: si,
                        zone: Some(zi),
                        role: PortalRole::Internal,
                    };
                    if org.portals.insert(key(p).into_owned(), r).is_some() {
                        c.err(
                            SITES_FILE,
                            &s.id,
                            format!("sites[{si}].zones[{zi}].portals"),
                            "portals",
                            p,
                            format!("portal {p:?} is listed twice"),
                        );
                    }
                }
            }
            for (list, role, field) in [
                (&s.entrances, PortalRole::Entrance, "entrances"),
                (&s.exits, PortalRole::Exit, "exits"),
            ] {
                for p in list {
                    let k = key(p).into_owned();
                    match org.portals.get_mut(&k) {
                        // A lobby turnstile is both an entrance and the door of the lobby zone.
                        Some(r) if r.site == si && r.role == PortalRole::Internal => r.role = role,
                        Some(_) => c.err(
                            SITES_FILE,
                            &s.id,
                            format!("sites[{si}].{field}"),
                            field,
                            p,
                            format!("portal {p:?} is listed twice"),
                        ),
                        None => {
                            org.portals.insert(
                                k,
                                PortalRef {
                                    site: si,
                                    zone: None,
                                    role,
                                },
                            );
                        }
                    }
                }
            }
        }

        for (ti, t) in org.teams.iter().enumerate() {
            if org.team_by_id.insert(key(&t.id).into_owned(), ti).is_some() {
                c.err(
                    TEAMS_FILE,
                    &t.id,
                    format!("teams[{ti}].id"),
                    "id",
                    &t.id,
                    format!("team id {:?} is used twice", t.id),
                );
            }
        }

        let mut ambiguous_bare = HashSet::new();
        for (pi, p) in org.people.iter().enumerate() {
            if org
                .person_by_id
                .insert(key(&p.id).into_owned(), pi)
                .is_some()
            {
                c.err(
                    PEOPLE_FILE,
                    &p.id,
                    format!("people[{pi}].id"),
                    "id",
                    &p.id,
                    format!("person id {:?} is used twice", p.id),
                );
            }
            org.person_by_name
                .entry(key(&p.name).into_owned())
                .or_insert(pi);
            for (bi, b) in p.badges.iter().enumerate() {
                if let Some(other) = org.person_by_badge.insert(key(b).into_owned(), pi) {
                    let other = org.people.get(other).map_or("", |o| o.id.as_str());
                    c.err(
                        PEOPLE_FILE,
                        &p.id,
                        format!("people[{pi}].badges[{bi}]"),
                        "badges",
                        b,
                        format!("badge {b:?} is already held by {other:?}"),
                    );
                }
            }
            let mut accounts: Vec<&String> = p.accounts.iter().collect();
            accounts.extend(p.email.iter());
            for (ai, a) in accounts.into_iter().enumerate() {
                let full = key(a).into_owned();
                if let Some(other) = org.person_by_account.insert(full.clone(), pi)
                    && other != pi
                {
                    let other = org.people.get(other).map_or("", |o| o.id.as_str());
                    c.err(
                        PEOPLE_FILE,
                        &p.id,
                        format!("people[{pi}].accounts[{ai}]"),
                        "accounts",
                        a,
                        format!("account {a:?} is already used by {other:?}"),
                    );
                }
                let bare = bare_account(a);
                if bare != full {
                    match org.person_by_account.get(&bare) {
                        Some(o) if *o != pi => {
                            ambiguous_bare.insert(bare);
                        }
                        Some(_) => {}
                        None => {
                            org.person_by_account.insert(bare, pi);
                        }
                    }
                }
            }
            for (di, d) in p.devices.iter().enumerate() {
                if let Some(h) = &d.host {
                    org.device_by_host.insert(key(h).into_owned(), pi);
                }
                if let Some(ip) = &d.ip {
                    match ip.trim().parse::<IpAddr>() {
                        Ok(a) => {
                            org.device_by_ip.insert(a, pi);
                        }
                        Err(_) => c.err(
                            PEOPLE_FILE,
                            &p.id,
                            format!("people[{pi}].devices[{di}].ip"),
                            "ip",
                            ip,
                            format!("{ip:?} is not an IP address"),
                        ),
                    }
                }
            }
            if let Some(s) = &p.home_site
                && !org.site_by_name.contains_key(key(s).as_ref())
            {
                c.err(
                    PEOPLE_FILE,
                    &p.id,
                    format!("people[{pi}].home_site"),
                    "home_site",
                    s,
                    format!("unknown site {s:?}"),
                );
            }
            if let Some(t) = &p.team
                && !org.team_by_id.contains_key(key(t).as_ref())
            {
                c.err(
                    PEOPLE_FILE,
                    &p.id,
                    format!("people[{pi}].team"),
                    "team",
                    t,
                    format!("unknown team {t:?}"),
                );
            }
            if let (Some(f), Some(u)) = (p.status.from, p.status.until)
                && u < f
            {
                c.err(
                    PEOPLE_FILE,
                    &p.id,
                    format!("people[{pi}].status.until"),
                    "until",
                    &u.to_string(),
                    "until is before from".into(),
                );
            }
            for (ti, t) in p.travel.iter().enumerate() {
                if t.until < t.from {
                    c.err(
                        PEOPLE_FILE,
                        &p.id,
                        format!("people[{pi}].travel[{ti}].until"),
                        "place",
                        &t.place,
                        "until is before from".into(),
                    );
                }
                if let Err(m) = t.location.validate(0) {
                    c.err(
                        PEOPLE_FILE,
                        &p.id,
                        format!("people[{pi}].travel[{ti}].location"),
                        "place",
                        &t.place,
                        m,
                    );
                }
            }
        }
        // A bare name shared by two people (CORP\jsmith and jsmith@partner) resolves to neither.
        for b in ambiguous_bare {
            org.person_by_account.remove(&b);
        }

        for (ti, t) in org.teams.iter().enumerate() {
            for m in &t.members {
                if !org.person_by_id.contains_key(key(m).as_ref()) {
                    c.err(
                        TEAMS_FILE,
                        &t.id,
                        format!("teams[{ti}].members"),
                        "members",
                        m,
                        format!("unknown person {m:?}"),
                    );
                }
            }
            if let Some(oc) = &t.on_call {
                if oc.shift_hours == 0 {
                    c.err(
                        TEAMS_FILE,
                        &t.id,
                        format!("teams[{ti}].on_call.shift_hours"),
                        "shift_hours",
                        "0",
                        "shift_hours must be more than 0".into(),
                    );
                }
                for m in oc
                    .rotation
                    .iter()
                    .chain(oc.overrides.iter().map(|o| &o.person))
                {
                    if !org.person_by_id.contains_key(key(m).as_ref()) {
                        c.err(
                            TEAMS_FILE,
                            &t.id,
                            format!("teams[{ti}].on_call"),
                            "rotation",
                            m,
                            format!("unknown person {m:?}"),
                        );
                    }
                }
            }
        }

        for (ai, a) in org.assets.iter().enumerate() {
            let mut names = vec![&a.id];
            names.extend(&a.hosts);
            names.extend(&a.aliases);
            for n in names {
                if let Some(o) = org.asset_by_name.insert(key(n).into_owned(), ai)
                    && o != ai
                {
                    c.err(
                        ASSETS_FILE,
                        &a.id,
                        format!("assets[{ai}]"),
                        "id",
                        n,
                        format!("asset name {n:?} is used twice"),
                    );
                }
            }
            for ip in &a.addresses {
                match ip.trim().parse::<IpAddr>() {
                    Ok(addr) => {
                        if org.asset_by_ip.insert(addr, ai).is_some() {
                            c.err(
                                ASSETS_FILE,
                                &a.id,
                                format!("assets[{ai}].addresses"),
                                "addresses",
                                ip,
                                format!("address {ip} is used by two assets"),
                            );
                        }
                    }
                    Err(_) => c.err(
                        ASSETS_FILE,
                        &a.id,
                        format!("assets[{ai}].addresses"),
                        "addresses",
                        ip,
                        format!("{ip:?} is not an IP address"),
                    ),
                }
            }
            let site = a.site.as_ref().and_then(|s| {
                let found = org.site_by_name.get(key(s).as_ref()).copied();
                if found.is_none() {
                    c.err(
                        ASSETS_FILE,
                        &a.id,
                        format!("assets[{ai}].site"),
                        "site",
                        s,
                        format!("unknown site {s:?}"),
                    );
                }
                found
            });
            if let Some(z) = &a.zone {
                match org.zone_by_id.get(key(z).as_ref()) {
                    Some(&(zs, zi)) => {
                        if site.is_some_and(|s| s != zs) {
                            c.err(
                                ASSETS_FILE,
                                &a.id,
                                format!("assets[{ai}].zone"),
                                "zone",
                                z,
                                format!(
                                    "zone {z:?} is not in site {:?}",
                                    a.site.as_deref().unwrap_or("")
                                ),
                            );
                        }
                        org.assets_by_zone.entry((zs, zi)).or_default().push(ai);
                    }
                    None => c.err(
                        ASSETS_FILE,
                        &a.id,
                        format!("assets[{ai}].zone"),
                        "zone",
                        z,
                        format!("unknown zone {z:?}"),
                    ),
                }
            }
            if let Some(s) = site {
                org.assets_by_site.entry(s).or_default().push(ai);
            }
            if let Some(o) = &a.owner
                && !org.person_by_id.contains_key(key(o).as_ref())
                && !org.team_by_id.contains_key(key(o).as_ref())
            {
                c.err(
                    ASSETS_FILE,
                    &a.id,
                    format!("assets[{ai}].owner"),
                    "owner",
                    o,
                    format!("owner {o:?} is neither a person nor a team"),
                );
            }
            if let (Some(v), Some(p)) = (&a.vendor, &a.product) {
                org.assets_by_product
                    .entry((product_key(v), product_key(p)))
                    .or_default()
                    .push(ai);
            }
        }

        for (ci, co) in org.countries.iter().enumerate() {
            org.country_by_code
                .insert(co.code.trim().to_ascii_uppercase(), ci);
        }
        for (ni, n) in org.networks.iter().enumerate() {
            let cidr = match Cidr::parse(&n.cidr) {
                Ok(c) => c,
                Err(m) => {
                    c.err(
                        NETWORK_FILE,
                        "",
                        format!("networks[{ni}].cidr"),
                        "cidr",
                        &n.cidr,
                        m,
                    );
                    continue;
                }
            };
            let site = n
                .site
                .as_ref()
                .and_then(|s| org.site_by_name.get(key(s).as_ref()).copied());
            if let (Some(s), None) = (&n.site, site) {
                c.err(
                    NETWORK_FILE,
                    "",
                    format!("networks[{ni}].site"),
                    "site",
                    s,
                    format!("unknown site {s:?}"),
                );
                continue;
            }
            let site_ref = site.and_then(|s| org.sites.get(s));
            let location = n
                .location
                .clone()
                .or_else(|| site_ref.map(|s| s.location.clone()));
            let Some(location) = location else {
                c.err(
                    NETWORK_FILE,
                    "",
                    format!("networks[{ni}]"),
                    "cidr",
                    &n.cidr,
                    "a network needs a site or a location".into(),
                );
                continue;
            };
            let place = NetPlace {
                site,
                place: n
                    .place
                    .clone()
                    .or_else(|| site_ref.map(|s| s.name.clone()))
                    .unwrap_or_else(|| n.cidr.clone()),
                country: n
                    .country
                    .clone()
                    .or_else(|| site_ref.and_then(|s| s.country.clone())),
                location,
            };
            if !org.net.insert(cidr, place) {
                c.err(
                    NETWORK_FILE,
                    "",
                    format!("networks[{ni}].cidr"),
                    "cidr",
                    &n.cidr,
                    format!("network {} is listed twice", n.cidr),
                );
            }
        }

        if c.errors.is_empty() {
            Ok(org)
        } else {
            Err(OrgErrors(c.errors))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.people.is_empty() && self.assets.is_empty()
    }

    pub fn site_index(&self, name: &str) -> Option<usize> {
        self.site_by_name.get(key(name).as_ref()).copied()
    }

    pub fn site(&self, i: usize) -> Option<&Site> {
        self.sites.get(i)
    }

    pub fn site_by_id(&self, id: &str) -> Option<&Site> {
        self.site_index(id).and_then(|i| self.sites.get(i))
    }

    /// `(site index, zone index)` of a zone id.
    pub fn zone_index(&self, id: &str) -> Option<(usize, usize)> {
        self.zone_by_id.get(key(id).as_ref()).copied()
    }

    pub fn zone(&self, (s, z): (usize, usize)) -> Option<&Zone> {
        self.sites.get(s).and_then(|s| s.zones.get(z))
    }

    pub fn zone_by_id(&self, id: &str) -> Option<&Zone> {
        self.zone_index(id).and_then(|i| self.zone(i))
    }

    pub fn portal(&self, name: &str) -> Option<PortalRef> {
        self.portals.get(key(name).as_ref()).copied()
    }

    pub fn person_index(&self, id: &str) -> Option<usize> {
        self.person_by_id.get(key(id).as_ref()).copied()
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.person_index(id).and_then(|i| self.people.get(i))
    }

    pub fn person_by_badge(&self, badge: &str) -> Option<usize> {
        self.person_by_badge.get(key(badge).as_ref()).copied()
    }

    /// An account in any of its forms: `user`, `DOMAIN\user`, `user@domain`, an e-mail address.
    pub fn person_by_account(&self, account: &str) -> Option<usize> {
        if let Some(i) = self.person_by_account.get(key(account).as_ref()) {
            return Some(*i);
        }
        self.person_by_account.get(&bare_account(account)).copied()
    }

    /// A person named by id or by full name.
    pub fn person_by_name(&self, name: &str) -> Option<usize> {
        let k = key(name);
        self.person_by_id
            .get(k.as_ref())
            .or_else(|| self.person_by_name.get(k.as_ref()))
            .copied()
    }

    /// Whose device a host name is.
    pub fn device_owner_by_host(&self, host: &str) -> Option<usize> {
        self.device_by_host.get(key(host).as_ref()).copied()
    }

    pub fn device_owner_by_ip(&self, ip: &str) -> Option<usize> {
        ip.trim()
            .parse()
            .ok()
            .and_then(|a| self.device_by_ip.get(&a).copied())
    }

    pub fn asset_index(&self, name: &str) -> Option<usize> {
        self.asset_by_name.get(key(name).as_ref()).copied()
    }

    pub fn asset(&self, id: &str) -> Option<&Asset> {
        self.asset_index(id).and_then(|i| self.assets.get(i))
    }

    pub fn asset_by_ip(&self, ip: &str) -> Option<usize> {
        ip.trim()
            .parse()
            .ok()
            .and_then(|a| self.asset_by_ip.get(&a).copied())
    }

    /// Assets placed in a zone.
    pub fn assets_in_zone(&self, zone: (usize, usize)) -> &[usize] {
        self.assets_by_zone.get(&zone).map_or(&[], Vec::as_slice)
    }

    pub fn assets_at_site(&self, site: usize) -> &[usize] {
        self.assets_by_site.get(&site).map_or(&[], Vec::as_slice)
    }

    /// Assets of a vendor's product (case-insensitive).
    pub fn assets_by_product(&self, vendor: &str, product: &str) -> &[usize] {
        self.assets_by_product
            .get(&(product_key(vendor), product_key(product)))
            .map_or(&[], Vec::as_slice)
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.team_by_id
            .get(key(id).as_ref())
            .and_then(|i| self.teams.get(*i))
    }

    /// Where an address is, from the network table.
    pub fn locate_ip(&self, ip: &str) -> Option<&NetPlace> {
        ip.trim().parse().ok().and_then(|a| self.net.lookup(a))
    }

    /// A country's reference point, for VPN gateways that report a country code.
    pub fn country(&self, code: &str) -> Option<&Country> {
        self.country_by_code
            .get(&code.trim().to_ascii_uppercase())
            .and_then(|i| self.countries.get(*i))
    }

    /// The employment state of a person on a day.
    pub fn state_on(&self, person: usize, day: NaiveDate) -> State {
        self.people
            .get(person)
            .map_or(State::Active, |p| p.status.state_on(day))
    }

    /// The travel segment a person is on at `t`, if any.
    pub fn travel_at(
        &self,
        person: usize,
        t: DateTime<Utc>,
    ) -> impl Iterator<Item = &TravelSegment> {
        self.people
            .get(person)
            .into_iter()
            .flat_map(|p| p.travel.iter())
            .filter(move |s| s.from <= t && t <= s.until)
    }

    /// Counts of what is loaded.
    pub fn summary(&self) -> OrgSummary {
        OrgSummary {
            sites: self.sites.len(),
            zones: self.zone_by_id.len(),
            people: self.people.len(),
            assets: self.assets.len(),
            teams: self.teams.len(),
            networks: self.net.len(),
        }
    }

    /// Security devices (cameras, readers, controllers, panels).
    pub fn is_security_device(&self, asset: usize) -> bool {
        self.assets
            .get(asset)
            .is_some_and(|a| a.kind.is_security_device())
    }

    pub fn asset_kind(&self, asset: usize) -> Option<AssetKind> {
        self.assets.get(asset).map(|a| a.kind)
    }
}

/// How much of the organisation is loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OrgSummary {
    pub sites: usize,
    pub zones: usize,
    pub people: usize,
    pub assets: usize,
    pub teams: usize,
    pub networks: usize,
}
