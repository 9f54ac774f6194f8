//! The organisation as written in the YAML files of the `org/` folder. Every struct refuses
//! unknown fields, so a misspelt key is an error with its line rather than a silent default.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tocsin_model::Geo;

/// How much harm losing or compromising a site or asset does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::Critical => "critical",
        }
    }
}

/// How sensitive a zone is; detectors are tuned by these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Public,
    #[default]
    Internal,
    Restricted,
    ServerRoom,
    Classified,
}

impl Sensitivity {
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Public => "public",
            Sensitivity::Internal => "internal",
            Sensitivity::Restricted => "restricted",
            Sensitivity::ServerRoom => "server_room",
            Sensitivity::Classified => "classified",
        }
    }
}

/// `org/sites.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitesFile {
    #[serde(default)]
    pub sites: Vec<Site>,
}

/// A place the organisation occupies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub id: String,
    pub name: String,
    /// ISO 3166 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// The site's reference point.
    pub location: Geo,
    /// The site's outline: a radius around `location` or a polygon.
    #[serde(default)]
    pub geofence: Option<Geofence>,
    #[serde(default)]
    pub criticality: Criticality,
    /// Other names sources use for this site (e.g. a controller's site code).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Portals on the perimeter that lead into the site (lobby turnstiles, gates).
    #[serde(default)]
    pub entrances: Vec<String>,
    /// Portals on the perimeter that lead out of the site.
    #[serde(default)]
    pub exits: Vec<String>,
    #[serde(default)]
    pub zones: Vec<Zone>,
}

/// A site's outline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geofence {
    #[serde(default)]
    pub radius_m: Option<f64>,
    /// `[lon, lat]` pairs, GeoJSON order.
    #[serde(default)]
    pub polygon: Option<Vec<[f64; 2]>>,
}

/// An area inside a site, entered through its portals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub sensitivity: Sensitivity,
    /// Doors, gates and turnstiles that lead into this zone.
    #[serde(default)]
    pub portals: Vec<String>,
    /// Badge readers on those portals, when sources name readers rather than doors.
    #[serde(default)]
    pub readers: Vec<String>,
}

/// `org/people.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeopleFile {
    #[serde(default)]
    pub people: Vec<Person>,
}

/// Someone the organisation knows: staff, contractors, visitors with a badge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub badges: Vec<String>,
    /// Account names; `DOMAIN\user` and `user@domain` forms match the bare `user` too.
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Workstations, laptops and phones this person uses.
    #[serde(default)]
    pub devices: Vec<Device>,
    #[serde(default)]
    pub home_site: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub travel: Vec<TravelSegment>,
}

/// One of a person's devices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
}

/// Employment state, with the dates it holds between.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub state: State,
    /// First day the state holds (inclusive); none means always.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Last day the state holds (inclusive); none means open-ended.
    #[serde(default)]
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Active,
    Leave,
    Terminated,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Leave => "leave",
            State::Terminated => "terminated",
        }
    }
}

impl Status {
    /// The state in force on `day`: outside the dates, the person is active.
    pub fn state_on(&self, day: NaiveDate) -> State {
        let started = self.from.is_none_or(|f| f <= day);
        let not_ended = self.until.is_none_or(|u| day <= u);
        if started && not_ended {
            self.state
        } else {
            State::Active
        }
    }
}

/// A leg of a planned trip.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravelSegment {
    pub place: String,
    pub location: Geo,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// `org/assets.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetsFile {
    #[serde(default)]
    pub assets: Vec<Asset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Server,
    Workstation,
    Switch,
    Router,
    Firewall,
    Camera,
    BadgeReader,
    DoorController,
    AlarmPanel,
    Iot,
}

impl AssetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Server => "server",
            AssetKind::Workstation => "workstation",
            AssetKind::Switch => "switch",
            AssetKind::Router => "router",
            AssetKind::Firewall => "firewall",
            AssetKind::Camera => "camera",
            AssetKind::BadgeReader => "badge_reader",
            AssetKind::DoorController => "door_controller",
            AssetKind::AlarmPanel => "alarm_panel",
            AssetKind::Iot => "iot",
        }
    }

    /// Part of the physical security system itself.
    pub fn is_security_device(self) -> bool {
        matches!(
            self,
            AssetKind::Camera
                | AssetKind::BadgeReader
                | AssetKind::DoorController
                | AssetKind::AlarmPanel
        )
    }
}

/// A device or system the organisation owns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub kind: AssetKind,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// CPE 2.3 name, where known.
    #[serde(default)]
    pub cpe: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub zone: Option<String>,
    /// A person id or a team id.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub criticality: Criticality,
    /// Host names the asset answers to.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// IP addresses of the asset.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Other names sources use (camera channel ids, serial numbers).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// `org/teams.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsFile {
    #[serde(default)]
    pub teams: Vec<Team>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub on_call: Option<OnCall>,
}

/// A rotation: the people in `rotation` take turns of `shift_hours`, the first turn starting at
/// `start`; an override puts someone else on call for its span.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCall {
    pub rotation: Vec<String>,
    /// The first hand-off.
    pub start: DateTime<Utc>,
    pub shift_hours: u32,
    #[serde(default)]
    pub overrides: Vec<OnCallOverride>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallOverride {
    pub person: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl OnCall {
    /// Who is on call at `t`: an override covering `t`, else the rotation's turn.
    pub fn on_call_at(&self, t: DateTime<Utc>) -> Option<&str> {
        if let Some(o) = self.overrides.iter().find(|o| o.from <= t && t < o.until) {
            return Some(&o.person);
        }
        if self.rotation.is_empty() || self.shift_hours == 0 || t < self.start {
            return None;
        }
        let turns = (t - self.start).num_hours() / i64::from(self.shift_hours);
        let n = i64::try_from(self.rotation.len()).ok()?;
        let i = usize::try_from(turns.rem_euclid(n)).ok()?;
        self.rotation.get(i).map(String::as_str)
    }
}

/// `org/network.yaml`: which networks are where, for locating logons.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    #[serde(default)]
    pub networks: Vec<Network>,
    /// Country code → reference point, for VPN gateways that report only a country.
    #[serde(default)]
    pub countries: Vec<Country>,
}

/// A network and where it is: one of the organisation's sites or a place outside.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// `10.1.0.0/16`, `2001:db8::/32` or a single address.
    pub cidr: String,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub place: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    /// Required when `site` is not set.
    #[serde(default)]
    pub location: Option<Geo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Country {
    pub code: String,
    pub location: Geo,
}
