//! The gateways of a service that sells in several Klarna regions: one per region, each with its own credentials, chosen by the purchase country.
//!
//! A Klarna merchant account lives in one region (Europe, North America, Oceania; API.md §1.1,
//! §11.9), so a shop selling in Sweden and the United States has two accounts. The service
//! routes every call of a payment to its region's gateway: by the purchase country of the
//! cart, or for an order by its currency (each currency is paid in one region only). A
//! payment whose region has no gateway is refused before any call
//! (`ServiceError::RegionNotConfigured` in `klarna-service`).

use std::fmt;
use std::sync::Arc;

use klarna_domain::Region;

/// One gateway per Klarna region, or one for all of them ([`Gateways::everywhere`]: a simulator,
/// a proxy that routes by itself, a single-market shop).
pub struct Gateways<G: ?Sized> {
    eu: Option<Arc<G>>,
    na: Option<Arc<G>>,
    oc: Option<Arc<G>>,
}

impl<G: ?Sized> Gateways<G> {
    /// No region yet: add them with [`Self::with`].
    #[must_use]
    pub const fn none() -> Self {
        Self {
            eu: None,
            na: None,
            oc: None,
        }
    }

    /// One gateway serves every region.
    #[must_use]
    pub fn everywhere(gateway: Arc<G>) -> Self {
        Self {
            eu: Some(Arc::clone(&gateway)),
            na: Some(Arc::clone(&gateway)),
            oc: Some(gateway),
        }
    }

    /// `gateway` serves `region` (replacing the one it had).
    #[must_use]
    pub fn with(mut self, region: Region, gateway: Arc<G>) -> Self {
        *self.slot(region) = Some(gateway);
        self
    }

    /// The gateway of `region`, if one is configured.
    #[must_use]
    pub fn get(&self, region: Region) -> Option<&Arc<G>> {
        match region {
            Region::Eu => self.eu.as_ref(),
            Region::Na => self.na.as_ref(),
            Region::Oc => self.oc.as_ref(),
        }
    }

    /// The regions that have a gateway, in the order EU, NA, OC.
    #[must_use]
    pub fn regions(&self) -> Vec<Region> {
        [Region::Eu, Region::Na, Region::Oc]
            .into_iter()
            .filter(|r| self.get(*r).is_some())
            .collect()
    }

    fn slot(&mut self, region: Region) -> &mut Option<Arc<G>> {
        match region {
            Region::Eu => &mut self.eu,
            Region::Na => &mut self.na,
            Region::Oc => &mut self.oc,
        }
    }
}

impl<G: ?Sized> Default for Gateways<G> {
    fn default() -> Self {
        Self::none()
    }
}

impl<G: ?Sized> Clone for Gateways<G> {
    fn clone(&self) -> Self {
        Self {
            eu: self.eu.clone(),
            na: self.na.clone(),
            oc: self.oc.clone(),
        }
    }
}

impl<G: ?Sized> fmt::Debug for Gateways<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateways")
            .field("regions", &self.regions())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_region_has_its_own_gateway_or_none() {
        let eu = Arc::new("eu");
        let na = Arc::new("na");
        let g = Gateways::none()
            .with(Region::Eu, Arc::clone(&eu))
            .with(Region::Na, Arc::clone(&na));
        assert_eq!(g.get(Region::Eu).map(|g| **g), Some("eu"));
        assert_eq!(g.get(Region::Na).map(|g| **g), Some("na"));
        assert!(g.get(Region::Oc).is_none());
        assert_eq!(g.regions(), [Region::Eu, Region::Na]);
        let all = Gateways::everywhere(Arc::new("one"));
        assert_eq!(all.regions(), [Region::Eu, Region::Na, Region::Oc]);
        assert_eq!(all.get(Region::Oc).map(|g| **g), Some("one"));
        assert_eq!(format!("{g:?}"), "Gateways { regions: [Eu, Na] }");
    }
}
