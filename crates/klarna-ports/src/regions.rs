//! One value per Klarna region: the gateways of a service that sells in several regions (one account, so one gateway, per region, chosen by the purchase country), or any other per-region setting.
//!
//! A Klarna merchant account lives in one region (Europe, North America, Oceania; API.md §1.1,
//! §11.9), so a shop selling in Sweden and the United States has two accounts. The service
//! routes every call of a payment to its region's gateway: by the purchase country of the
//! cart, or for an order by its currency (each currency is paid in one region only). A
//! payment whose region has no gateway is refused before any call
//! (`ServiceError::RegionNotConfigured` in `klarna-service`).

use std::fmt;

use klarna_domain::Region;

/// At most one `T` per Klarna region. For a service, `ByRegion<Arc<G>>`: one gateway per
/// region, or one for all of them ([`ByRegion::everywhere`]: a simulator, a proxy that routes
/// by itself, a single-market shop). `Debug` names the regions only, never the values (they
/// may hold credentials).
#[derive(Clone)]
pub struct ByRegion<T> {
    eu: Option<T>,
    na: Option<T>,
    oc: Option<T>,
}

impl<T> ByRegion<T> {
    /// No region yet: add them with [`Self::with`].
    #[must_use]
    pub const fn none() -> Self {
        Self {
            eu: None,
            na: None,
            oc: None,
        }
    }

    /// The same value for every region.
    #[must_use]
    pub fn everywhere(value: T) -> Self
    where
        T: Clone,
    {
        Self {
            eu: Some(value.clone()),
            na: Some(value.clone()),
            oc: Some(value),
        }
    }

    /// `value` for `region` (replacing the one it had).
    #[must_use]
    pub fn with(mut self, region: Region, value: T) -> Self {
        *self.slot(region) = Some(value);
        self
    }

    /// The value of `region`, if one is set.
    #[must_use]
    pub fn get(&self, region: Region) -> Option<&T> {
        match region {
            Region::Eu => self.eu.as_ref(),
            Region::Na => self.na.as_ref(),
            Region::Oc => self.oc.as_ref(),
        }
    }

    /// The value of `region`, set to the default first if it had none.
    pub fn get_or_default(&mut self, region: Region) -> &mut T
    where
        T: Default,
    {
        self.slot(region).get_or_insert_with(T::default)
    }

    /// The regions that have a value, in the order EU, NA, OC.
    #[must_use]
    pub fn regions(&self) -> Vec<Region> {
        [Region::Eu, Region::Na, Region::Oc]
            .into_iter()
            .filter(|r| self.get(*r).is_some())
            .collect()
    }

    fn slot(&mut self, region: Region) -> &mut Option<T> {
        match region {
            Region::Eu => &mut self.eu,
            Region::Na => &mut self.na,
            Region::Oc => &mut self.oc,
        }
    }
}

impl<T> Default for ByRegion<T> {
    fn default() -> Self {
        Self::none()
    }
}

impl<T> fmt::Debug for ByRegion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByRegion")
            .field("regions", &self.regions())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn each_region_has_its_own_value_or_none() {
        let eu = Arc::new("eu");
        let na = Arc::new("na");
        let g = ByRegion::none()
            .with(Region::Eu, Arc::clone(&eu))
            .with(Region::Na, Arc::clone(&na));
        assert_eq!(g.get(Region::Eu).map(|g| **g), Some("eu"));
        assert_eq!(g.get(Region::Na).map(|g| **g), Some("na"));
        assert!(g.get(Region::Oc).is_none());
        assert_eq!(g.regions(), [Region::Eu, Region::Na]);
        let all = ByRegion::everywhere(Arc::new("one"));
        assert_eq!(all.regions(), [Region::Eu, Region::Na, Region::Oc]);
        assert_eq!(all.get(Region::Oc).map(|g| **g), Some("one"));
        assert_eq!(format!("{g:?}"), "ByRegion { regions: [Eu, Na] }");
        let mut counts = ByRegion::<u32>::none();
        *counts.get_or_default(Region::Oc) += 2;
        *counts.get_or_default(Region::Oc) += 1;
        assert_eq!(counts.get(Region::Oc), Some(&3));
        assert_eq!(counts.regions(), [Region::Oc]);
    }
}
