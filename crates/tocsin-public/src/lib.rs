//! Public signals: the world outside, read from news, social posts and official feeds.
//!
//! - [`feeds`]: pure parsers for RSS/Atom, CAP 1.2, USGS GeoJSON, GDACS, CISA KEV, NVD CVE 2.0 and
//!   social-post JSON, each item an [`Event`](tocsin_model::Event) of the `public` domain with a
//!   dedup key stable across polls.
//! - [`gazetteer`]: the offline GeoNames gazetteer shipped with the build and the geoparser.
//! - [`classify`]: event typing and informativeness (hashed n-gram linear model, shipped).
//! - [`cluster`]: event detection on the stream (first story, bursts, official confirmation).
//! - [`detector`]: [`PublicSignalDetector`], the `public_signal` detector with relevance to sites,
//!   travellers and watch lists.
//! - [`crisislex`] and [`eval`]: training and evaluation on labelled crisis posts.
//!
//! Architecture invariant: no IO and no wall clock outside [`crisislex`] (which reads a data
//! folder for the `train` and `eval` commands); times come from the events.

pub mod classify;
pub mod cluster;
pub mod crisislex;
pub mod detector;
pub mod eval;
pub mod feeds;
pub mod gazetteer;
pub mod text;

pub use classify::{Classification, Classifier, EventType};
pub use cluster::{ClusterConfig, Emission, EventSummary, StreamDetector};
pub use detector::{
    PublicSignalConfig, PublicSignalDetector, SiteRef, TravellerRef, WatchItem, WatchKind,
};
pub use feeds::{FeedItem, FeedKind, FeedOptions, ParsedFeed, SeenSet, parse_feed};
pub use gazetteer::Gazetteer;
