//! `KlarnaBuilder`: wires a ready [`Klarna`] service from configuration (environment, URLs) or from your own adapters.

use std::fmt;
use std::sync::Arc;

use klarna_domain::{Region, UnknownRegion};
use klarna_ports::{
    ByRegion, Clock, IdempotencyKeys, MerchantUrls, PaymentGateway, PaymentStore, SystemClock,
};
use klarna_service::{PaymentService, ServiceConfig};

use crate::Klarna;

/// Where the HTTP gateway sends requests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// A Klarna region on the playground or in production.
    Klarna {
        /// The merchant account's region.
        region: Region,
        /// Live system (`true`) or playground (`false`, the default).
        production: bool,
    },
    /// Any base URL: the simulator, a recording proxy.
    BaseUrl(String),
}

impl Default for Target {
    fn default() -> Self {
        Self::Klarna {
            region: Region::Eu,
            production: false,
        }
    }
}

/// Why the service could not be wired.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A required setting is missing; the message names it and its environment variable.
    #[error("missing setting: {0}")]
    Missing(&'static str),
    /// A setting does not parse.
    #[error("invalid setting {name}: {reason}")]
    Invalid {
        /// The setting (and its environment variable).
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The configuration needs a feature of this crate that is off.
    #[error("{what} needs the `{feature}` feature of klarna-payments")]
    FeatureDisabled {
        /// What was asked for.
        what: String,
        /// The feature to enable.
        feature: &'static str,
    },
    /// The region does not parse (`KLARNA_REGION`).
    #[error(transparent)]
    Region(#[from] UnknownRegion),
    /// The HTTP client could not be built.
    #[cfg(feature = "http")]
    #[error("cannot build the Klarna client")]
    Gateway(#[source] klarna_gateway_http::KlarnaError),
    /// The store could not be opened or migrated.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error("cannot open the store")]
    Store(#[source] klarna_store_sql::SqlStoreError),
    /// The store could not read or make its installation id (the default key namespace).
    #[error("cannot read the store's installation id (the default key namespace)")]
    InstallationId(#[source] klarna_ports::StoreError),
}

/// Where payments are stored: a store URL, parsed (`KLARNA_STORE_URL`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreUrl {
    /// `memory:`, the in-memory store (feature `memory`).
    Memory,
    /// `sqlite://file.db?mode=rwc` or `sqlite::memory:` (feature `sqlite`).
    Sqlite(String),
    /// `postgres://user:pass@host/db` (feature `postgres`).
    Postgres(String),
}

impl StoreUrl {
    /// The URL's scheme, the only part that is safe to show (the rest may hold a password).
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({}:…)", self.scheme())
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = BuildError;
    /// `memory:`, `sqlite:…`, `postgres://…` or `postgresql://…`.
    fn from_str(url: &str) -> Result<Self, BuildError> {
        let url = url.trim();
        match url.split(':').next().unwrap_or_default() {
            "memory" => Ok(Self::Memory),
            "sqlite" => Ok(Self::Sqlite(url.to_owned())),
            "postgres" | "postgresql" => Ok(Self::Postgres(url.to_owned())),
            scheme => Err(BuildError::Invalid {
                name: "store URL (KLARNA_STORE_URL)",
                reason: format!(
                    "unknown scheme {:?}: use memory:, sqlite://file.db or postgres://…",
                    scheme.chars().take(16).collect::<String>()
                ),
            }),
        }
    }
}

/// The account of one more region ([`KlarnaBuilder::region_account`]).
#[derive(Clone, Default)]
struct RegionAccount {
    username: Option<String>,
    password: Option<String>,
    base_url: Option<String>,
}

/// The regions, in the order they are read and listed.
const REGIONS: [Region; 3] = [Region::Eu, Region::Na, Region::Oc];

/// The environment variables of a region's account.
const fn region_env(region: Region) -> [&'static str; 3] {
    match region {
        Region::Eu => [
            "KLARNA_EU_USERNAME",
            "KLARNA_EU_PASSWORD",
            "KLARNA_EU_BASE_URL",
        ],
        Region::Na => [
            "KLARNA_NA_USERNAME",
            "KLARNA_NA_PASSWORD",
            "KLARNA_NA_BASE_URL",
        ],
        Region::Oc => [
            "KLARNA_OC_USERNAME",
            "KLARNA_OC_PASSWORD",
            "KLARNA_OC_BASE_URL",
        ],
    }
}

/// Builds a [`Klarna`] service. Every setting has a method; [`Self::from_env`] fills them
/// from the environment. Adapters you pass ([`Self::gateway`], [`Self::store`], …) win over
/// configuration.
///
/// # Regions
///
/// A Klarna account lives in one region, and the service sends each payment to the account
/// of its purchase country's region (US, CA, MX → `na`; AU, NZ → `oc`; every other country
/// `eu`; API.md §11.9). The main account ([`Self::credentials`]) serves [`Self::region`];
/// [`Self::region_account`] adds the account of another region. A payment in a region with no
/// account is refused before any call (`ServiceError::RegionNotConfigured`). One exception
/// keeps the simulator simple: a [`Self::base_url`] with no region accounts serves every
/// region (it is one Klarna that answers for all of them).
#[derive(Default)]
pub struct KlarnaBuilder {
    target: Target,
    username: Option<String>,
    password: Option<String>,
    regions: ByRegion<RegionAccount>,
    store_url: Option<String>,
    store_key_hex: Option<String>,
    key_namespace: Option<String>,
    config: ServiceConfig,
    gateway: Option<Arc<dyn PaymentGateway>>,
    store: Option<Arc<dyn PaymentStore>>,
    clock: Option<Arc<dyn Clock>>,
    keys: Option<Arc<dyn IdempotencyKeys>>,
}

impl fmt::Debug for KlarnaBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials and the store key never reach Debug output; the store URL may hold a
        // database password, so only its scheme is shown.
        f.debug_struct("KlarnaBuilder")
            .field("target", &self.target)
            .field("username", &self.username.as_ref().map(|_| "<set>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("region_accounts", &self.regions.regions())
            .field(
                "store_url",
                &self
                    .store_url
                    .as_deref()
                    .map(|u| u.split(':').next().unwrap_or_default()),
            )
            .field(
                "store_key",
                &self.store_key_hex.as_ref().map(|_| "<redacted>"),
            )
            .field("custom_gateway", &self.gateway.is_some())
            .field("custom_store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl KlarnaBuilder {
    /// A builder with nothing configured: the playground of region EU, the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `KLARNA_USERNAME`, `KLARNA_PASSWORD`, `KLARNA_REGION`, `KLARNA_PRODUCTION`,
    /// `KLARNA_BASE_URL`, `KLARNA_STORE_URL`, `KLARNA_STORE_KEY`, `KLARNA_KEY_NAMESPACE`, and
    /// for each region `eu`, `na`, `oc` its account `KLARNA_<REGION>_USERNAME`,
    /// `KLARNA_<REGION>_PASSWORD` and optional `KLARNA_<REGION>_BASE_URL` (those that are
    /// set; the others keep their current value).
    ///
    /// # Errors
    /// [`BuildError::Region`] for a region other than `eu`, `na`, `oc`;
    /// [`BuildError::Invalid`] for a `KLARNA_PRODUCTION` other than `0`/`1`/`true`/`false`.
    pub fn from_env(mut self) -> Result<Self, BuildError> {
        for region in REGIONS {
            let [user, pass, url] = region_env(region);
            let (u, p, b) = (env(user), env(pass), env(url));
            if u.is_some() || p.is_some() || b.is_some() {
                let account = self.account(region);
                account.username = u.or(account.username.take());
                account.password = p.or(account.password.take());
                account.base_url = b.or(account.base_url.take());
            }
        }
        if let Some(u) = env("KLARNA_USERNAME") {
            self.username = Some(u);
        }
        if let Some(p) = env("KLARNA_PASSWORD") {
            self.password = Some(p);
        }
        let production = match env("KLARNA_PRODUCTION").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(BuildError::Invalid {
                    name: "KLARNA_PRODUCTION",
                    reason: format!("expected 1/true or 0/false, got {other:?}"),
                });
            }
        };
        if let Some(r) = env("KLARNA_REGION") {
            self = self.region(r.parse()?);
        }
        if let Target::Klarna { region, .. } = self.target {
            self.target = Target::Klarna { region, production };
        }
        if let Some(b) = env("KLARNA_BASE_URL") {
            self.target = Target::BaseUrl(b);
        }
        if let Some(s) = env("KLARNA_STORE_URL") {
            self.store_url = Some(s);
        }
        if let Some(k) = env("KLARNA_STORE_KEY") {
            self.store_key_hex = Some(k);
        }
        if let Some(n) = env("KLARNA_KEY_NAMESPACE") {
            self.key_namespace = Some(n);
        }
        Ok(self)
    }

    /// The account's region (keeps playground/production as set).
    #[must_use]
    pub fn region(mut self, region: Region) -> Self {
        let production = matches!(
            self.target,
            Target::Klarna {
                production: true,
                ..
            }
        );
        self.target = Target::Klarna { region, production };
        self
    }

    /// Production (`true`) or the playground (`false`, the default) of the configured region.
    #[must_use]
    pub fn production(mut self, production: bool) -> Self {
        let region = match self.target {
            Target::Klarna { region, .. } => region,
            Target::BaseUrl(_) => Region::Eu,
        };
        self.target = Target::Klarna { region, production };
        self
    }

    /// Sends to this base URL instead of a region's (the simulator, a proxy). It must be
    /// `https`, or plain `http` to a loopback host (`127.0.0.0/8`, `::1`, `localhost`);
    /// [`build`](Self::build) refuses anything else with [`BuildError::Invalid`].
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.target = Target::BaseUrl(url.into());
        self
    }

    /// API credentials.
    #[must_use]
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// The account of `region` (credentials; Klarna's host of that region on the configured
    /// environment, unless [`Self::region_base_url`] names another): payments whose purchase
    /// country is in `region` go there. Replaces the credentials the region had.
    #[must_use]
    pub fn region_account(
        mut self,
        region: Region,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        let account = self.account(region);
        account.username = Some(username.into());
        account.password = Some(password.into());
        self
    }

    /// Sends `region`'s account to this base URL (a simulator per region, a proxy); the same
    /// rules as [`Self::base_url`].
    #[must_use]
    pub fn region_base_url(mut self, region: Region, url: impl Into<String>) -> Self {
        self.account(region).base_url = Some(url.into());
        self
    }

    /// Points `region`'s account at an in-process simulator (its base URL and credentials).
    #[cfg(feature = "simulator")]
    #[must_use]
    pub fn region_simulator(self, region: Region, sim: &klarna_simulator::Simulator) -> Self {
        self.region_base_url(region, sim.base_url()).region_account(
            region,
            sim.username(),
            sim.password(),
        )
    }

    fn account(&mut self, region: Region) -> &mut RegionAccount {
        self.regions.get_or_default(region)
    }

    /// Points the gateway at an in-process simulator (base URL and its credentials).
    #[cfg(feature = "simulator")]
    #[must_use]
    pub fn simulator(self, sim: &klarna_simulator::Simulator) -> Self {
        self.base_url(sim.base_url())
            .credentials(sim.username(), sim.password())
    }

    /// The store: `memory:`, `sqlite://file.db?mode=rwc`, `sqlite::memory:` or
    /// `postgres://user:pass@host/db`.
    #[must_use]
    pub fn store_url(mut self, url: impl Into<String>) -> Self {
        self.store_url = Some(url.into());
        self
    }

    /// The key that encrypts tokens at rest in SQL stores, as 64 hex digits (keep it out of the
    /// database and its backups).
    #[must_use]
    pub fn store_key_hex(mut self, hex: impl Into<String>) -> Self {
        self.store_key_hex = Some(hex.into());
        self
    }

    /// The key that encrypts tokens at rest in SQL stores.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[must_use]
    pub fn store_key(self, key: &klarna_store_sql::StoreKey) -> Self {
        self.store_key_hex(key.expose_hex())
    }

    /// The UUID that names this installation's idempotency keys (`KLARNA_KEY_NAMESPACE`); it
    /// wins over the default.
    ///
    /// By default the namespace is derived from the store's installation id
    /// ([`PaymentStore::installation_id`]: random, made once and kept in the store). So it is
    /// per store, not per account: two installations sharing a Klarna account (and perhaps
    /// choosing the same charge ids) never mint the same key, and one installation keeps its
    /// keys across restarts, as long as it keeps its store. Set one explicitly only to keep
    /// keys stable across a move to another store; never give two stores the same one.
    #[must_use]
    pub fn key_namespace(mut self, uuid: impl Into<String>) -> Self {
        self.key_namespace = Some(uuid.into());
        self
    }

    /// Callback URLs sent with every session and order (`authorization` is Klarna's
    /// server-side copy of the browser's authorization).
    #[must_use]
    pub fn merchant_urls(mut self, urls: MerchantUrls) -> Self {
        self.config.urls = urls;
        self
    }

    /// The whole service configuration (replaces what [`Self::merchant_urls`] set).
    #[must_use]
    pub fn config(mut self, config: ServiceConfig) -> Self {
        self.config = config;
        self
    }

    /// Your own gateway (a wrapper that measures calls, another HTTP stack, a mock).
    #[must_use]
    pub fn gateway(mut self, gateway: Arc<dyn PaymentGateway>) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// Your own store (your database, a wrapper around one of ours).
    #[must_use]
    pub fn store(mut self, store: Arc<dyn PaymentStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Your own clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Your own id and idempotency-key minting (default: UUIDs with the `http` feature).
    #[must_use]
    pub fn keys(mut self, keys: Arc<dyn IdempotencyKeys>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Wires the service: builds the HTTP gateway unless one was given, opens (and migrates)
    /// the store unless one was given.
    ///
    /// # Errors
    /// [`BuildError::Missing`] for missing credentials or store URL, [`BuildError::Invalid`]
    /// for settings that do not parse (a base URL with plain `http` to a host that is not
    /// loopback among them), [`BuildError::FeatureDisabled`] when the configuration
    /// needs an adapter that is not compiled in, [`BuildError::Store`] when the database cannot
    /// be opened or migrated.
    pub async fn build(self) -> Result<Klarna, BuildError> {
        let mut config = self.config.clone();
        let gateways = match self.gateway.clone() {
            Some(g) => ByRegion::everywhere(g),
            None => {
                let (gateway, deadline) = self.http_gateway()?;
                // Pending operations are fenced for the client's whole deadline.
                config.call_deadline = deadline;
                gateway
            }
        };
        let store = match self.store.clone() {
            Some(s) => s,
            None => self.open_store().await?,
        };
        let keys = match self.keys.clone() {
            Some(k) => k,
            None => self.default_keys(store.as_ref()).await?,
        };
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        Ok(PaymentService::regional(
            gateways, store, clock, keys, config,
        ))
    }

    #[cfg(feature = "http")]
    async fn default_keys(
        &self,
        store: &dyn PaymentStore,
    ) -> Result<Arc<dyn IdempotencyKeys>, BuildError> {
        let namespace = match &self.key_namespace {
            Some(text) => uuid::Uuid::parse_str(text.trim()).map_err(|e| BuildError::Invalid {
                name: "key namespace (KLARNA_KEY_NAMESPACE)",
                reason: e.to_string(),
            })?,
            // Per store, never per account: the store's random installation id, made once and
            // kept, so two installations never collide and a restart keeps its keys.
            None => {
                let id = store
                    .installation_id()
                    .await
                    .map_err(BuildError::InstallationId)?;
                namespace_of(id)
            }
        };
        Ok(Arc::new(klarna_gateway_http::UuidKeys::new(namespace)))
    }

    #[cfg(not(feature = "http"))]
    #[allow(
        clippy::unused_async,
        reason = "the same signature as with the `http` feature"
    )]
    async fn default_keys(
        &self,
        _store: &dyn PaymentStore,
    ) -> Result<Arc<dyn IdempotencyKeys>, BuildError> {
        Err(BuildError::FeatureDisabled {
            what: "minting ids without KlarnaBuilder::keys".to_owned(),
            feature: "http",
        })
    }

    /// The HTTP gateways, one per configured region (or one for every region: a base URL
    /// without region accounts), and the longest of their call deadlines.
    #[cfg(feature = "http")]
    fn http_gateway(
        &self,
    ) -> Result<(ByRegion<Arc<dyn PaymentGateway>>, klarna_domain::Span), BuildError> {
        let accounts = self.regions.regions();
        let main_region = match &self.target {
            Target::Klarna { region, .. } => Some(*region),
            // A base URL alone is one Klarna answering for every region (the simulator).
            Target::BaseUrl(_) if accounts.is_empty() => None,
            Target::BaseUrl(_) => Some(Region::Eu),
        };
        let main = match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (None, None) if !accounts.is_empty() => None,
            (None, _) => return Err(BuildError::Missing("Klarna username (KLARNA_USERNAME)")),
            (Some(_), None) => {
                return Err(BuildError::Missing("Klarna password (KLARNA_PASSWORD)"));
            }
        };
        let mut gateways = ByRegion::none();
        let mut deadline = klarna_domain::Span::millis(0);
        if let Some((username, password)) = main {
            let (gateway, d) = self.one_gateway(
                username,
                password,
                &self.target,
                "base URL (KLARNA_BASE_URL)",
            )?;
            deadline = d;
            gateways = match main_region {
                None => ByRegion::everywhere(gateway),
                Some(region) => gateways.with(region, gateway),
            };
        }
        let production = matches!(
            self.target,
            Target::Klarna {
                production: true,
                ..
            }
        );
        for region in accounts {
            let Some(account) = self.regions.get(region) else {
                continue;
            };
            let [user_var, pass_var, _] = region_env(region);
            let username = account
                .username
                .clone()
                .ok_or(BuildError::Missing(user_var))?;
            let password = account
                .password
                .clone()
                .ok_or(BuildError::Missing(pass_var))?;
            let target = match &account.base_url {
                Some(url) => Target::BaseUrl(url.clone()),
                None => Target::Klarna { region, production },
            };
            let (gateway, d) =
                self.one_gateway(username, password, &target, region_env(region)[2])?;
            if d > deadline {
                deadline = d;
            }
            gateways = gateways.with(region, gateway);
        }
        Ok((gateways, deadline))
    }

    /// One HTTP gateway to `target` with these credentials; `setting` names where its base
    /// URL came from, for the error.
    #[cfg(feature = "http")]
    fn one_gateway(
        &self,
        username: String,
        password: String,
        target: &Target,
        setting: &'static str,
    ) -> Result<(Arc<dyn PaymentGateway>, klarna_domain::Span), BuildError> {
        use klarna_gateway_http::{Credentials, Environment, KlarnaClient, KlarnaGateway};
        let builder = KlarnaClient::builder(Credentials::new(username, password));
        let builder = match target {
            Target::BaseUrl(url) => builder.base_url(url.clone()),
            Target::Klarna { region, production } => {
                let environment = if *production {
                    Environment::Production
                } else {
                    Environment::Playground
                };
                builder.region(*region).environment(environment)
            }
        };
        let client = builder.build().map_err(|e| match e {
            // Named as the setting it came from, e.g. plain http to a host that is not
            // loopback (nothing has been sent).
            klarna_gateway_http::KlarnaError::InvalidInput {
                field: "base_url",
                reason,
            } => BuildError::Invalid {
                name: setting,
                reason,
            },
            other => BuildError::Gateway(other),
        })?;
        let deadline = klarna_domain::Span::millis(
            i64::try_from(client.deadline().as_millis()).unwrap_or(i64::MAX),
        );
        Ok((Arc::new(KlarnaGateway::new(client)), deadline))
    }

    #[cfg(not(feature = "http"))]
    fn http_gateway(
        &self,
    ) -> Result<(ByRegion<Arc<dyn PaymentGateway>>, klarna_domain::Span), BuildError> {
        Err(BuildError::FeatureDisabled {
            what: "talking to Klarna without KlarnaBuilder::gateway".to_owned(),
            feature: "http",
        })
    }

    async fn open_store(&self) -> Result<Arc<dyn PaymentStore>, BuildError> {
        let url: StoreUrl = self
            .store_url
            .as_deref()
            .ok_or(BuildError::Missing("store URL (KLARNA_STORE_URL)"))?
            .parse()?;
        match &url {
            StoreUrl::Memory => Self::memory_store(),
            StoreUrl::Sqlite(raw) | StoreUrl::Postgres(raw) => {
                self.sql_store(raw, url.scheme()).await
            }
        }
    }

    #[cfg(feature = "memory")]
    fn memory_store() -> Result<Arc<dyn PaymentStore>, BuildError> {
        Ok(Arc::new(klarna_store_memory::InMemoryStore::new()))
    }

    #[cfg(not(feature = "memory"))]
    fn memory_store() -> Result<Arc<dyn PaymentStore>, BuildError> {
        Err(BuildError::FeatureDisabled {
            what: "the store URL memory:".to_owned(),
            feature: "memory",
        })
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    async fn sql_store(
        &self,
        url: &str,
        scheme: &'static str,
    ) -> Result<Arc<dyn PaymentStore>, BuildError> {
        let wanted = scheme;
        if (wanted == "sqlite" && !cfg!(feature = "sqlite"))
            || (wanted == "postgres" && !cfg!(feature = "postgres"))
        {
            return Err(BuildError::FeatureDisabled {
                what: format!("the store URL {scheme}:"),
                feature: wanted,
            });
        }
        let hex = self.store_key_hex.as_deref().ok_or(BuildError::Missing(
            "store key (KLARNA_STORE_KEY, 64 hex digits)",
        ))?;
        let key = klarna_store_sql::StoreKey::from_hex(hex).map_err(|e| BuildError::Invalid {
            name: "store key (KLARNA_STORE_KEY)",
            reason: e.to_string(),
        })?;
        let store = klarna_store_sql::SqlStore::connect(url, key)
            .await
            .map_err(BuildError::Store)?;
        store.migrate().await.map_err(BuildError::Store)?;
        Ok(Arc::new(store))
    }

    #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
    async fn sql_store(
        &self,
        _url: &str,
        scheme: &'static str,
    ) -> Result<Arc<dyn PaymentStore>, BuildError> {
        Err(BuildError::FeatureDisabled {
            what: format!("the store URL {scheme}:"),
            feature: scheme,
        })
    }
}

/// The UUID v5 namespace of a store's idempotency keys, derived from its installation id.
#[cfg(feature = "http")]
fn namespace_of(id: klarna_ports::InstallationId) -> uuid::Uuid {
    let name = format!(
        "klarna-payments:installation:{}",
        uuid::Uuid::from_bytes(id.to_bytes()).simple()
    );
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
}
