use crate::Event;

/// Fills resolved identities (`person_id`, `asset_id`, `site_id`, `zone_id`) and site geo from the
/// organisation model, in the pipeline's enrich stage. Implementations must be O(1) per event and
/// must not block: they run for every event.
pub trait Enricher: Send + Sync + std::fmt::Debug {
    fn enrich(&self, event: &mut Event);
}

/// Used when no organisation model is configured: events pass unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEnrichment;

impl Enricher for NoEnrichment {
    fn enrich(&self, _event: &mut Event) {}
}
