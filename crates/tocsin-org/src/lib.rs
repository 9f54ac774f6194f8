//! The organisation model: sites with zones and portals, people with their credentials and
//! devices, assets, teams with on-call rotations and a table of networks, read from the YAML files
//! of a config folder's `org/` directory.
//!
//! ```yaml
//! # org/sites.yaml
//! sites:
//!   - id: dc-frankfurt
//!     name: Frankfurt data centre
//!     country: DE
//!     location: { lat: 50.1109, lon: 8.6821 }
//!     geofence: { radius_m: 250 }
//!     criticality: critical
//!     entrances: [DC-MANTRAP]
//!     exits: [DC-EXIT]
//!     zones:
//!       - { id: dc-server-room, name: Server room, sensitivity: server_room, portals: [DC-SRV-ROOM-A] }
//! ```
//!
//! [`load_dir`] reads and checks the folder (errors name file, line and field); [`Org`] holds
//! the indexes that [`OrgEnricher`] uses to resolve every event in O(1); [`PresenceBook`] keeps
//! each person's whereabouts from badge events.
//!
//! Dependency direction: this crate uses only `tocsin-model`; detectors build on it.

mod error;
mod geoip;
mod handle;
mod load;
pub mod model;
mod org;
mod presence;

pub use error::{OrgError, OrgErrors};
pub use geoip::{Cidr, NetTable};
pub use handle::{IdentityKind, OrgEnricher, OrgHandle, Unresolved, enrich_with};
pub use load::{
    ASSETS_FILE, NETWORK_FILE, ORG_FILES, OrgFiles, OrgSources, PEOPLE_FILE, SITES_FILE,
    TEAMS_FILE, load_dir, parse_sources, read_dir,
};
pub use model::*;
pub use org::{NetPlace, Org, OrgSummary, PortalRef, PortalRole, bare_account, product_key};
pub use presence::{PASSAGE_ACTIVITIES, Presence, PresenceBook, PresenceChange, SharedPresence};

/// The folder, next to `tocsin.toml`, that holds the organisation files.
pub const ORG_DIR: &str = "org";
