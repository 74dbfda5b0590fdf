//! Markets: purchase country, currency and locale; only Klarna's combinations (API.md §1.9) exist.

use std::fmt;
use std::str::FromStr;

use crate::field::FieldPath;

/// Why a country, currency or locale was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MarketError {
    /// The text is not a country Klarna Payments sells in.
    #[error("{field}: `{value}` is not a Klarna purchase country")]
    UnknownCountry {
        /// The offending field.
        field: FieldPath,
        /// What was given (upper-cased, at most 8 characters).
        value: String,
    },
    /// The text is not a currency Klarna Payments accepts.
    #[error("{field}: `{value}` is not a Klarna purchase currency")]
    UnknownCurrency {
        /// The offending field.
        field: FieldPath,
        /// What was given.
        value: String,
    },
    /// The locale is not of the form `ll-CC`.
    #[error("{field}: `{value}` is not a locale of the form ll-CC")]
    MalformedLocale {
        /// The offending field.
        field: FieldPath,
        /// What was given.
        value: String,
    },
    /// The currency is not the local currency of the country.
    #[error("purchase_currency: {currency} is not accepted in {country} (expected {expected})")]
    CurrencyMismatch {
        /// The purchase country.
        country: Country,
        /// The currency given.
        currency: Currency,
        /// The country's currency.
        expected: Currency,
    },
    /// The locale is not offered for the country.
    #[error("locale: {locale} is not offered in {country}")]
    LocaleMismatch {
        /// The purchase country.
        country: Country,
        /// The locale given.
        locale: Locale,
    },
}

impl MarketError {
    /// The field to fix.
    #[must_use]
    pub fn field(&self) -> FieldPath {
        match self {
            Self::UnknownCountry { field, .. }
            | Self::UnknownCurrency { field, .. }
            | Self::MalformedLocale { field, .. } => field.clone(),
            Self::CurrencyMismatch { .. } => FieldPath::new("purchase_currency"),
            Self::LocaleMismatch { .. } => FieldPath::new("locale"),
        }
    }
}

fn clip(s: &str) -> String {
    s.chars().take(8).collect()
}

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident, $err:ident, $field:literal { $($variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[allow(missing_docs, reason = "variants are ISO codes, named by the code")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The ISO code, upper case.
            #[must_use]
            pub const fn code(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }
        }

        impl FromStr for $name {
            type Err = MarketError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let upper = s.to_ascii_uppercase();
                match upper.as_str() {
                    $($code => Ok(Self::$variant),)+
                    _ => Err(MarketError::$err { field: FieldPath::new($field), value: clip(s) }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
        }
    };
}

code_enum!(
    /// A purchase country (ISO 3166-1 alpha-2) where Klarna Payments is offered.
    Country, UnknownCountry, "purchase_country" {
    Au => "AU", At => "AT", Be => "BE", Ca => "CA", Cz => "CZ", Dk => "DK", Fi => "FI", Fr => "FR",
    De => "DE", Gr => "GR", Hu => "HU", Ie => "IE", It => "IT", Mx => "MX", Nl => "NL", Nz => "NZ",
    No => "NO", Pl => "PL", Pt => "PT", Ro => "RO", Sk => "SK", Es => "ES", Se => "SE", Ch => "CH",
    Gb => "GB", Us => "US",
});

code_enum!(
    /// A purchase currency (ISO 4217) Klarna Payments accepts. All have two decimals.
    Currency, UnknownCurrency, "purchase_currency" {
    Aud => "AUD", Cad => "CAD", Chf => "CHF", Czk => "CZK", Dkk => "DKK", Eur => "EUR", Gbp => "GBP",
    Huf => "HUF", Mxn => "MXN", Nok => "NOK", Nzd => "NZD", Pln => "PLN", Ron => "RON", Sek => "SEK",
    Usd => "USD",
});

impl Currency {
    /// The Klarna region of the countries that pay in this currency: each currency is the local
    /// currency of countries in one region only (checked by a test over every country), so a
    /// record that keeps only its currency (an order) still knows its region.
    #[must_use]
    pub const fn region(self) -> Region {
        match self {
            Self::Usd | Self::Cad | Self::Mxn => Region::Na,
            Self::Aud | Self::Nzd => Region::Oc,
            Self::Chf
            | Self::Czk
            | Self::Dkk
            | Self::Eur
            | Self::Gbp
            | Self::Huf
            | Self::Nok
            | Self::Pln
            | Self::Ron
            | Self::Sek => Region::Eu,
        }
    }

    /// Digits after the decimal point (ISO 4217 exponent). Every Klarna currency has 2.
    #[must_use]
    pub const fn exponent(self) -> u32 {
        2
    }
}

impl Country {
    /// The Klarna region that serves purchases from this country (API.md §11.9): US, CA and MX
    /// North America; AU and NZ Oceania; every other market Europe.
    #[must_use]
    pub const fn region(self) -> Region {
        match self {
            Self::Us | Self::Ca | Self::Mx => Region::Na,
            Self::Au | Self::Nz => Region::Oc,
            Self::At
            | Self::Be
            | Self::Cz
            | Self::Dk
            | Self::Fi
            | Self::Fr
            | Self::De
            | Self::Gr
            | Self::Hu
            | Self::Ie
            | Self::It
            | Self::Nl
            | Self::No
            | Self::Pl
            | Self::Pt
            | Self::Ro
            | Self::Sk
            | Self::Es
            | Self::Se
            | Self::Ch
            | Self::Gb => Region::Eu,
        }
    }

    /// The only currency Klarna accepts for purchases in this country.
    #[must_use]
    pub const fn currency(self) -> Currency {
        match self {
            Self::Au => Currency::Aud,
            Self::Ca => Currency::Cad,
            Self::Ch => Currency::Chf,
            Self::Cz => Currency::Czk,
            Self::Dk => Currency::Dkk,
            Self::Gb => Currency::Gbp,
            Self::Hu => Currency::Huf,
            Self::Mx => Currency::Mxn,
            Self::No => Currency::Nok,
            Self::Nz => Currency::Nzd,
            Self::Pl => Currency::Pln,
            Self::Ro => Currency::Ron,
            Self::Se => Currency::Sek,
            Self::Us => Currency::Usd,
            Self::At
            | Self::Be
            | Self::Fi
            | Self::Fr
            | Self::De
            | Self::Gr
            | Self::Ie
            | Self::It
            | Self::Nl
            | Self::Pt
            | Self::Sk
            | Self::Es => Currency::Eur,
        }
    }

    /// The languages Klarna offers in this country (the `ll` of `ll-CC`).
    #[must_use]
    pub const fn languages(self) -> &'static [&'static str] {
        match self {
            Self::Au | Self::Gb | Self::Ie | Self::Nz => &["en"],
            Self::At => &["de", "en"],
            Self::Be => &["nl", "fr", "en"],
            Self::Ca => &["en", "fr"],
            Self::Cz => &["cs", "en"],
            Self::Dk => &["da", "en"],
            Self::Fi => &["fi", "sv", "en"],
            Self::Fr => &["fr", "en"],
            Self::De => &["de", "en"],
            Self::Gr => &["el", "en"],
            Self::Hu => &["hu", "en"],
            Self::It => &["it", "en"],
            Self::Mx => &["en", "es"],
            Self::Nl => &["nl", "en"],
            Self::No => &["nb", "en"],
            Self::Pl => &["pl", "en"],
            Self::Pt => &["pt", "en"],
            Self::Ro => &["ro", "en"],
            Self::Sk => &["sk", "en"],
            Self::Es => &["es", "en"],
            Self::Se => &["sv", "en"],
            Self::Ch => &["de", "fr", "it", "en"],
            Self::Us => &["en", "es"],
        }
    }
}

/// A locale `ll-CC` (language, country), normalised to lower-case language and upper-case country.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Locale {
    language: [u8; 2],
    country: Country,
}

impl Locale {
    /// Parses `ll-CC`; the country part must be a Klarna purchase country.
    ///
    /// # Errors
    /// [`MarketError::MalformedLocale`] when the text is not `ll-CC` with a known country.
    pub fn parse(s: &str) -> Result<Self, MarketError> {
        let bad = || MarketError::MalformedLocale {
            field: FieldPath::new("locale"),
            value: clip(s),
        };
        let (lang, country) = s.split_once('-').ok_or_else(bad)?;
        let lang = lang.to_ascii_lowercase();
        let bytes: [u8; 2] = lang.as_bytes().try_into().map_err(|_| bad())?;
        if !bytes.iter().all(u8::is_ascii_lowercase) {
            return Err(bad());
        }
        let country = Country::from_str(country).map_err(|_| bad())?;
        Ok(Self {
            language: bytes,
            country,
        })
    }

    /// The language part (`sv`).
    #[must_use]
    pub fn language(&self) -> &str {
        // The bytes were checked to be ASCII lower-case letters in `parse`.
        std::str::from_utf8(&self.language).unwrap_or("en")
    }

    /// The country part.
    #[must_use]
    pub const fn country(&self) -> Country {
        self.country
    }
}

impl FromStr for Locale {
    type Err = MarketError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.language(), self.country.code())
    }
}

impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A valid (country, currency, locale) combination of API.md §1.9.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Market {
    country: Country,
    currency: Currency,
    locale: Locale,
}

impl Market {
    /// Combines the three; only Klarna's combinations are accepted.
    ///
    /// # Errors
    /// [`MarketError::CurrencyMismatch`] or [`MarketError::LocaleMismatch`].
    pub fn new(country: Country, currency: Currency, locale: Locale) -> Result<Self, MarketError> {
        if country.currency() != currency {
            return Err(MarketError::CurrencyMismatch {
                country,
                currency,
                expected: country.currency(),
            });
        }
        if locale.country() != country || !country.languages().contains(&locale.language()) {
            return Err(MarketError::LocaleMismatch { country, locale });
        }
        Ok(Self {
            country,
            currency,
            locale,
        })
    }

    /// Parses the three codes as Klarna spells them (`"SE"`, `"SEK"`, `"sv-SE"`).
    ///
    /// # Errors
    /// Any [`MarketError`], naming the field.
    pub fn parse(country: &str, currency: &str, locale: &str) -> Result<Self, MarketError> {
        Self::new(country.parse()?, currency.parse()?, Locale::parse(locale)?)
    }

    /// The purchase country.
    #[must_use]
    pub const fn country(&self) -> Country {
        self.country
    }
    /// The purchase currency.
    #[must_use]
    pub const fn currency(&self) -> Currency {
        self.currency
    }
    /// The Klarna region that serves this market (its country's).
    #[must_use]
    pub const fn region(&self) -> Region {
        self.country.region()
    }

    /// The locale.
    #[must_use]
    pub const fn locale(&self) -> Locale {
        self.locale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_has_a_valid_market_per_language() {
        for &country in Country::ALL {
            for lang in country.languages() {
                let locale = Locale::parse(&format!("{lang}-{}", country.code())).unwrap();
                assert!(
                    Market::new(country, country.currency(), locale).is_ok(),
                    "{country} {lang}"
                );
            }
        }
    }

    #[test]
    fn parses_case_insensitively_and_names_fields() {
        let m = Market::parse("se", "sek", "SV-se").unwrap();
        assert_eq!(m.locale().to_string(), "sv-SE");
        assert_eq!(
            Market::parse("SE", "EUR", "sv-SE")
                .unwrap_err()
                .field()
                .as_str(),
            "purchase_currency"
        );
        assert_eq!(
            Market::parse("SE", "SEK", "de-SE")
                .unwrap_err()
                .field()
                .as_str(),
            "locale"
        );
        assert_eq!(
            Market::parse("SE", "SEK", "sv-DE")
                .unwrap_err()
                .field()
                .as_str(),
            "locale"
        );
        assert_eq!(
            Market::parse("XX", "SEK", "sv-SE")
                .unwrap_err()
                .field()
                .as_str(),
            "purchase_country"
        );
        assert_eq!(
            Market::parse("SE", "XXX", "sv-SE")
                .unwrap_err()
                .field()
                .as_str(),
            "purchase_currency"
        );
        assert_eq!(
            Market::parse("SE", "SEK", "svSE")
                .unwrap_err()
                .field()
                .as_str(),
            "locale"
        );
    }
}

/// Where a Klarna merchant account lives: each region is its own API host and credentials
/// (API.md §1.1). Exhaustive on purpose: every match on it names each region, so a region
/// added later breaks the matches that must decide its host, instead of falling back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Region {
    /// Europe.
    #[default]
    Eu,
    /// North America.
    Na,
    /// Oceania.
    Oc,
}

/// A region name other than `eu`, `na` or `oc`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("region: `{0}` is not a Klarna region (expected eu, na or oc)")]
pub struct UnknownRegion(pub String);

impl Region {
    /// `eu`, `na` or `oc`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eu => "eu",
            Self::Na => "na",
            Self::Oc => "oc",
        }
    }
}

impl std::str::FromStr for Region {
    type Err = UnknownRegion;
    /// `eu`, `na` or `oc`, in any case, surrounding blanks ignored.
    fn from_str(s: &str) -> Result<Self, UnknownRegion> {
        match s.trim().to_ascii_lowercase().as_str() {
            "eu" => Ok(Self::Eu),
            "na" => Ok(Self::Na),
            "oc" => Ok(Self::Oc),
            _ => Err(UnknownRegion(s.chars().take(16).collect())),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod region_tests {
    use super::*;

    #[test]
    fn every_currency_belongs_to_the_region_of_its_countries() {
        for &country in Country::ALL {
            assert_eq!(country.currency().region(), country.region(), "{country}");
        }
        assert_eq!(Country::Us.region(), Region::Na);
        assert_eq!(Country::Nz.region(), Region::Oc);
        assert_eq!(Country::Se.region(), Region::Eu);
    }

    #[test]
    fn regions_parse_by_name_and_nothing_else_falls_back() {
        assert_eq!(" NA ".parse::<Region>(), Ok(Region::Na));
        assert_eq!("oc".parse::<Region>(), Ok(Region::Oc));
        assert_eq!("eu".parse::<Region>().map(Region::as_str), Ok("eu"));
        assert_eq!("us".parse::<Region>(), Err(UnknownRegion("us".to_owned())));
        assert_eq!(
            UnknownRegion("us".to_owned()).to_string(),
            "region: `us` is not a Klarna region (expected eu, na or oc)"
        );
    }
}
