//! Telephone-number canonicalisation (RFC 8224 §8.3, specs §2.4).
//!
//! Accepts what people and SIP stacks actually send: raw strings with spaces
//! and the RFC 3966 visual separators (`-` `.` `(` `)`), `tel:` URIs, and
//! `sip:`/`sips:` URIs whose user part is a telephone number. The result is
//! the canonical PASSporT form: digits (and `*`/`#`), no `+`, at most 15
//! characters. Only ASCII digits count; other Unicode digits are rejected.

use std::fmt;
use std::str::FromStr;

/// Longest telephone number: the E.164 limit, and RFC 8226 `TelephoneNumber`.
pub const MAX_TN_LEN: usize = 15;

/// How a number written without `+` (a national number) becomes global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NationalRule {
    /// North American Numbering Plan: a 10-digit national number gains the
    /// country code `1` (`2155550121` → `12155550121`). US carriers put 11
    /// digits starting with 1 in `orig.tn`.
    #[default]
    Nanp,
    /// Leave numbers without `+` as they are (they are taken as already global).
    None,
}

impl FromStr for NationalRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nanp" => Ok(NationalRule::Nanp),
            "none" => Ok(NationalRule::None),
            other => Err(format!(
                "unknown national rule {other:?} (expected nanp or none)"
            )),
        }
    }
}

/// Canonicalisation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TnPolicy {
    /// What to do with numbers written without `+`.
    pub national: NationalRule,
}

/// A canonical telephone number: 1–15 of `[0-9*#]`, no `+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TelephoneNumber(String);

/// Why a string is not a telephone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TnError {
    /// Empty after removing separators.
    #[error("empty telephone number in {input:?}")]
    Empty {
        /// What was given.
        input: String,
    },
    /// A Unicode digit that is not ASCII 0-9 (e.g. Arabic-Indic digits).
    #[error("non-ASCII digit {ch:?} (U+{code:04X}) in telephone number {input:?}; only ASCII 0-9 are accepted")]
    NonAsciiDigit {
        /// The character.
        ch: char,
        /// Its code point.
        code: u32,
        /// What was given.
        input: String,
    },
    /// Any other character that has no place in a telephone number.
    #[error("invalid character {ch:?} in telephone number {input:?}")]
    InvalidChar {
        /// The character.
        ch: char,
        /// What was given.
        input: String,
    },
    /// More than 15 digits.
    #[error("telephone number {input:?} has {len} digits; at most 15 are allowed (E.164)")]
    TooLong {
        /// Digit count.
        len: usize,
        /// What was given.
        input: String,
    },
    /// A SIP URI whose user part is not a telephone number.
    #[error("{input:?} is not a telephone-number URI (user part {user:?} is not a number)")]
    NotTelephoneUri {
        /// What was given.
        input: String,
        /// The user part.
        user: String,
    },
    /// A URI scheme we cannot take a number from.
    #[error("unsupported URI scheme in {input:?} (expected tel:, sip:, sips: or a plain number)")]
    UnsupportedScheme {
        /// What was given.
        input: String,
    },
    /// A `+` anywhere but at the start.
    #[error("misplaced '+' in telephone number {input:?}")]
    MisplacedPlus {
        /// What was given.
        input: String,
    },
}

/// A `tn` claim that is not a number fails verification with 438 (`tn-invalid`).
impl crate::diagnostic::Diagnostic for TnError {
    fn id(&self) -> &'static str {
        match self {
            TnError::Empty { .. } => "tn-empty",
            TnError::NonAsciiDigit { .. } => "tn-non-ascii-digit",
            TnError::InvalidChar { .. } => "tn-invalid-char",
            TnError::TooLong { .. } => "tn-too-long",
            TnError::NotTelephoneUri { .. } => "tn-not-telephone-uri",
            TnError::UnsupportedScheme { .. } => "tn-unsupported-scheme",
            TnError::MisplacedPlus { .. } => "tn-misplaced-plus",
        }
    }
    fn sip_code(&self) -> Option<u16> {
        Some(438)
    }
    fn verstat(&self) -> Option<crate::report::Verstat> {
        Some(crate::report::Verstat::NoValidation)
    }
}

impl TelephoneNumber {
    /// Canonicalise a raw number, a `tel:` URI, or a `sip:`/`sips:` URI (also
    /// inside `<...>` or a full name-addr such as `"Bob" <sip:...>;tag=x`).
    pub fn parse(input: &str, policy: &TnPolicy) -> Result<Self, TnError> {
        let (mut digits, plus) = Self::scan(input)?;
        if nanp_national(&digits, plus, policy) {
            digits.insert(0, '1');
        }
        Self::checked(digits, input)
    }

    /// The digits of `input` (any form [`TelephoneNumber::parse`] takes) and
    /// whether they were written as a global number (a leading `+`), before
    /// any national rule and the length limit.
    fn scan(input: &str) -> Result<(String, bool), TnError> {
        let trimmed = input.trim();
        // name-addr: take the addr-spec between angle brackets.
        let inner = match (trimmed.find('<'), trimmed.rfind('>')) {
            (Some(a), Some(b)) if a < b => trimmed.get(a + 1..b).unwrap_or(trimmed),
            _ => trimmed,
        };
        // The scheme, compared without regard to case in the first five
        // bytes (as a lowercased copy of them was: no allocation now).
        let head = inner.get(..5);
        let scheme = |s: &str| {
            head.and_then(|h| h.as_bytes().get(..s.len()))
                .is_some_and(|p| p.eq_ignore_ascii_case(s.as_bytes()))
        };
        let number_part = if scheme("tel:") {
            let rest = inner.get(4..).unwrap_or("");
            rest.split(';').next().unwrap_or("")
        } else if scheme("sip:") || scheme("sips:") {
            let colon = inner.find(':').map_or(0, |i| i + 1);
            let rest = inner.get(colon..).unwrap_or("");
            let Some(at) = rest.find('@') else {
                return Err(TnError::NotTelephoneUri {
                    input: input.to_owned(),
                    user: String::new(),
                });
            };
            let user = rest.get(..at).unwrap_or("");
            let number = user.split(';').next().unwrap_or("");
            if !looks_numeric(number) {
                return Err(TnError::NotTelephoneUri {
                    input: input.to_owned(),
                    user: user.to_owned(),
                });
            }
            number
        } else if inner.contains(':') {
            return Err(TnError::UnsupportedScheme {
                input: input.to_owned(),
            });
        } else {
            inner
        };
        Self::scan_number(number_part, input)
    }

    fn scan_number(number: &str, input: &str) -> Result<(String, bool), TnError> {
        let mut global = false;
        let mut digits = String::with_capacity(number.len());
        for (i, ch) in number.chars().enumerate() {
            match ch {
                '0'..='9' | '*' | '#' => digits.push(ch),
                '+' if i == 0 || (digits.is_empty() && !global) => global = true,
                '+' => {
                    return Err(TnError::MisplacedPlus {
                        input: input.to_owned(),
                    })
                }
                '-' | '.' | '(' | ')' | ' ' | '\t' => {}
                c if c.is_numeric() => {
                    return Err(TnError::NonAsciiDigit {
                        ch: c,
                        code: c as u32,
                        input: input.to_owned(),
                    })
                }
                c => {
                    return Err(TnError::InvalidChar {
                        ch: c,
                        input: input.to_owned(),
                    })
                }
            }
        }
        if digits.is_empty() {
            return Err(TnError::Empty {
                input: input.to_owned(),
            });
        }
        Ok((digits, global))
    }

    /// `digits` as a number, if they are at most [`MAX_TN_LEN`] long.
    fn checked(digits: String, input: &str) -> Result<Self, TnError> {
        if digits.len() > MAX_TN_LEN {
            return Err(TnError::TooLong {
                len: digits.len(),
                input: input.to_owned(),
            });
        }
        Ok(TelephoneNumber(digits))
    }

    /// Read a TN claim of a PASSporT (`orig.tn`, `dest.tn`). Claims carry
    /// canonical E.164 digits without the `+` (RFC 8224 §8.3), so the digits
    /// are read as a global number; when the national rule reads the same
    /// digits differently (a 10-digit NANP number sent without its country
    /// code, as some signers do), that reading is kept too. The two can be
    /// different real numbers: `5012221234` is Belize `+501 222 1234` as
    /// E.164 and Arkansas `+1 501 222 1234` as a national NANP number, so the
    /// call's own numbers decide which one the signer meant
    /// ([`ClaimTn::matches`]).
    pub fn parse_claim(input: &str, policy: &TnPolicy) -> Result<ClaimTn, TnError> {
        // One scan for both readings: they differ only where the national
        // rule prefixes the country code, which never makes a number too long.
        let (digits, plus) = Self::scan(input)?;
        let national = nanp_national(&digits, plus, policy).then(|| {
            let mut n = String::with_capacity(digits.len() + 1);
            n.push('1');
            n.push_str(&digits);
            TelephoneNumber(n)
        });
        Ok(ClaimTn {
            global: Self::checked(digits, input)?,
            national,
        })
    }

    /// The canonical digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the NANP rule reads `digits` (written without a `+`) as a
/// national number: ten digits starting 2-9 get the country code 1.
fn nanp_national(digits: &str, plus: bool, policy: &TnPolicy) -> bool {
    !plus
        && policy.national == NationalRule::Nanp
        && digits.len() == 10
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits
            .as_bytes()
            .first()
            .is_some_and(|b| (b'2'..=b'9').contains(b))
}

/// A PASSporT TN claim read both ways (see [`TelephoneNumber::parse_claim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimTn {
    /// The digits as an E.164 number (what RFC 8224 §8.3 says they are).
    pub global: TelephoneNumber,
    /// The national reading, when the national rule gives another number.
    pub national: Option<TelephoneNumber>,
}

impl ClaimTn {
    /// Whether `tn` (a number of the call) is this claim under either reading.
    pub fn matches(&self, tn: &TelephoneNumber) -> bool {
        self.global == *tn || self.national.as_ref() == Some(tn)
    }

    /// The reading to show when the call gives no number to decide by: the
    /// national one if there is one (the policy's choice), else the E.164 one.
    pub fn preferred(&self) -> &TelephoneNumber {
        self.national.as_ref().unwrap_or(&self.global)
    }
}

fn looks_numeric(user: &str) -> bool {
    let mut has_digit = false;
    for ch in user.chars() {
        match ch {
            '0'..='9' => has_digit = true,
            '+' | '-' | '.' | '(' | ')' | '*' | '#' => {}
            c if c.is_numeric() => has_digit = true, // reported precisely later
            _ => return false,
        }
    }
    has_digit
}

impl fmt::Display for TelephoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TelephoneNumber {
    type Err = TnError;
    /// Parse with the default policy (NANP rule on).
    fn from_str(s: &str) -> Result<Self, TnError> {
        TelephoneNumber::parse(s, &TnPolicy::default())
    }
}

/// The canonical digits, without a copy.
impl From<TelephoneNumber> for String {
    fn from(t: TelephoneNumber) -> String {
        t.0
    }
}

impl AsRef<str> for TelephoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn p(s: &str) -> Result<String, TnError> {
        TelephoneNumber::parse(s, &TnPolicy::default()).map(|t| t.0)
    }

    #[test]
    fn raw_forms() {
        assert_eq!(
            String::from(
                TelephoneNumber::parse("+1 (215) 555-1212", &TnPolicy::default()).unwrap()
            ),
            "12155551212"
        );
        assert_eq!(p("+1 (215) 555-1212").unwrap(), "12155551212");
        assert_eq!(p("215.555.1212").unwrap(), "12155551212");
        assert_eq!(p("12155551212").unwrap(), "12155551212");
        assert_eq!(p("+44 20 7946 0958").unwrap(), "442079460958");
        assert_eq!(p("*67").unwrap(), "*67");
    }

    #[test]
    fn spec_example_sip_user_phone() {
        assert_eq!(
            p("sip:+1-(215)-555-1212@example.com;user=phone").unwrap(),
            "12155551212"
        );
    }

    #[test]
    fn tel_uri_params_dropped() {
        assert_eq!(p("tel:+1-215-555-1212;ext=22").unwrap(), "12155551212");
        assert_eq!(
            p("TEL:+12155551212;npdi;rn=+12155550000").unwrap(),
            "12155551212"
        );
        assert_eq!(p("<tel:+12155551212>").unwrap(), "12155551212");
    }

    #[test]
    fn name_addr() {
        assert_eq!(
            p("\"Alice\" <sip:+12155551212;npdi@carrier.example;user=phone>;tag=abc").unwrap(),
            "12155551212"
        );
    }

    #[test]
    fn nanp_rule_is_a_policy() {
        let none = TnPolicy {
            national: NationalRule::None,
        };
        assert_eq!(
            TelephoneNumber::parse("2155551212", &none)
                .unwrap()
                .as_str(),
            "2155551212"
        );
        assert_eq!(p("2155551212").unwrap(), "12155551212");
        // +-prefixed numbers are global already: no rule applies.
        assert_eq!(p("+2155551212").unwrap(), "2155551212");
        // 10 digits starting with 0 or 1 are not NANP numbers.
        assert_eq!(p("0155551212").unwrap(), "0155551212");
    }

    #[test]
    fn rejects_non_ascii_digits() {
        let e = p("+١٢١٥٥٥٥١٢١٢").unwrap_err();
        assert!(
            matches!(e, TnError::NonAsciiDigit { code: 0x0661, .. }),
            "{e}"
        );
        assert!(matches!(
            p("２１５５５５１２１２"),
            Err(TnError::NonAsciiDigit { .. })
        ));
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            p("12a4"),
            Err(TnError::InvalidChar { ch: 'a', .. })
        ));
        assert!(matches!(p(""), Err(TnError::Empty { .. })));
        assert!(matches!(p("+"), Err(TnError::Empty { .. })));
        assert!(matches!(p("1+2"), Err(TnError::MisplacedPlus { .. })));
        assert!(matches!(
            p("1234567890123456"),
            Err(TnError::TooLong { len: 16, .. })
        ));
        assert!(matches!(
            p("sip:alice@example.com"),
            Err(TnError::NotTelephoneUri { .. })
        ));
        assert!(matches!(
            p("sip:example.com"),
            Err(TnError::NotTelephoneUri { .. })
        ));
        assert!(matches!(
            p("mailto:x@y"),
            Err(TnError::UnsupportedScheme { .. })
        ));
    }

    /// `parse_claim` scans once; it must give what the two full parses
    /// (E.164, then under the policy) give, errors included.
    #[test]
    fn one_scan_claim_equals_the_two_parses() {
        let inputs = [
            "12155550121",
            "2155550121",
            "+2155550121",
            "5012221234",
            "0155550121",
            "215555012",
            "1234567890123456",
            "123456789012345",
            "tel:2155550121",
            "TEL:+12155550121;x=y",
            "sip:2155550121@example.net",
            "SIPS:+2155550121@example.net",
            "<sip:2155550121@example.net>",
            "tel:",
            "tel:\u{e9}",
            "sip:alice@example.net",
            "mailto:x",
            "215-555-0121",
            "21+55550121",
            "",
            "*67",
            "\u{661}\u{662}",
            "2155550121x",
        ];
        for national in [NationalRule::Nanp, NationalRule::None] {
            let policy = TnPolicy { national };
            let none = TnPolicy {
                national: NationalRule::None,
            };
            for input in inputs {
                let two = TelephoneNumber::parse(input, &none).and_then(|global| {
                    let n = TelephoneNumber::parse(input, &policy)?;
                    Ok(ClaimTn {
                        national: (n != global).then_some(n),
                        global,
                    })
                });
                assert_eq!(
                    TelephoneNumber::parse_claim(input, &policy),
                    two,
                    "{input:?} {national:?}"
                );
            }
        }
    }

    #[test]
    fn claims_are_read_as_e164_and_nationally() {
        let nanp = TnPolicy::default();
        let c = TelephoneNumber::parse_claim("5012221234", &nanp).unwrap();
        assert_eq!(c.global.as_str(), "5012221234");
        assert_eq!(c.national.as_ref().map(|t| t.as_str()), Some("15012221234"));
        assert_eq!(c.preferred().as_str(), "15012221234");
        for call in ["+5012221234", "+1 501 222 1234", "5012221234"] {
            assert!(
                c.matches(&TelephoneNumber::parse(call, &nanp).unwrap()),
                "{call}"
            );
        }
        assert!(!c.matches(&TelephoneNumber::parse("+12155550121", &nanp).unwrap()));
        // Canonical 11-digit claims have one reading.
        let c = TelephoneNumber::parse_claim("12155550121", &nanp).unwrap();
        assert_eq!(
            (c.global.as_str(), c.national.is_none()),
            ("12155550121", true)
        );
        // Without the national rule there is only the E.164 reading.
        let none = TnPolicy {
            national: NationalRule::None,
        };
        assert!(TelephoneNumber::parse_claim("5012221234", &none)
            .unwrap()
            .national
            .is_none());
        assert!(TelephoneNumber::parse_claim("50x", &nanp).is_err());
    }

    /// Canonical output parses to itself as E.164 under every rule, and as
    /// it is under the `none` rule (the fuzz target `tn` checks the same).
    #[test]
    fn canonical_form_is_a_fixed_point() {
        for input in [
            "+2511100240",
            "sip:+2511100240@x;user=phone",
            "2155550121",
            "+44 20 7946 0018",
            "*67",
            "tel:911",
        ] {
            for national in [NationalRule::Nanp, NationalRule::None] {
                let p = TnPolicy { national };
                let Ok(tn) = TelephoneNumber::parse(input, &p) else {
                    continue;
                };
                let plus = format!("+{tn}");
                if tn.as_str().bytes().all(|b| b.is_ascii_digit()) {
                    assert_eq!(TelephoneNumber::parse(&plus, &p).unwrap(), tn, "{input}");
                }
                let none = TnPolicy {
                    national: NationalRule::None,
                };
                assert_eq!(
                    TelephoneNumber::parse(tn.as_str(), &none).unwrap(),
                    tn,
                    "{input}"
                );
            }
        }
    }
}
