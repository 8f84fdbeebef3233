//! The `_mta-sts` TXT record (RFC 8461 section 3.1).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::RecordError;
use crate::txt;

/// The version tag every `_mta-sts` record starts with.
pub const STS_VERSION_TAG: &str = "v=STSv1";

/// The DNS name prefix of the record (`_mta-sts.` + Policy Domain; STS-TXT-01).
pub const STS_TXT_PREFIX: &str = "_mta-sts.";

/// The name to query for the `_mta-sts` TXT record of `domain` (STS-TXT-01).
/// One trailing dot of `domain` is dropped.
///
/// ```
/// assert_eq!(mta_sts_core::record::txt_name("example.com"), "_mta-sts.example.com");
/// ```
pub fn txt_name(domain: &str) -> String {
    format!(
        "{STS_TXT_PREFIX}{}",
        domain.strip_suffix('.').unwrap_or(domain)
    )
}

/// An extension field (`name=value`) of a TXT record, kept as written
/// (STS-TXT-08).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TxtExtension<'a> {
    /// Field name.
    pub name: Cow<'a, str>,
    /// Field value.
    pub value: Cow<'a, str>,
}

impl TxtExtension<'_> {
    /// An owned copy.
    pub fn into_owned(self) -> TxtExtension<'static> {
        TxtExtension {
            name: Cow::Owned(self.name.into_owned()),
            value: Cow::Owned(self.value.into_owned()),
        }
    }

    /// Owned copies of a list of extensions.
    pub fn all_into_owned(list: Vec<Self>) -> Vec<TxtExtension<'static>> {
        list.into_iter().map(TxtExtension::into_owned).collect()
    }
}

/// A parsed `_mta-sts` TXT record: `v=STSv1; id=...;` plus extensions.
///
/// ```
/// use mta_sts_core::StsRecord;
/// let r = StsRecord::parse("v=STSv1; id=20160831085700Z;").unwrap();
/// assert_eq!(r.id(), "20160831085700Z");
/// assert_eq!(r.to_string(), "v=STSv1; id=20160831085700Z");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StsRecord<'a> {
    id: Cow<'a, str>,
    extensions: Vec<TxtExtension<'a>>,
    ignored: Vec<TxtExtension<'a>>,
}

fn is_valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|c| c.is_ascii_alphanumeric())
}

impl<'a> StsRecord<'a> {
    /// Parse one record per the RFC 8461 ABNF (STS-TXT-02..09, DEC-02, DEC-03).
    ///
    /// Unknown fields are kept as [`extensions`](Self::extensions); a repeated
    /// `v` or `id` after the first is ignored for semantics (STS-TXT-09) and
    /// kept in [`ignored`](Self::ignored).
    pub fn parse(text: &'a str) -> Result<Self, RecordError> {
        let fields = txt::parse_fields(text, STS_VERSION_TAG)?;
        let mut id: Option<&'a str> = None;
        let mut extensions = Vec::new();
        let mut ignored = Vec::new();
        for f in fields {
            let ext = TxtExtension {
                name: Cow::Borrowed(f.name),
                value: Cow::Borrowed(f.value),
            };
            match f.name {
                "id" => {
                    if !is_valid_id(f.value) {
                        return Err(RecordError::InvalidId {
                            offset: f.value_offset,
                            found: f.value.to_owned(),
                        });
                    }
                    if id.is_none() {
                        id = Some(f.value);
                    } else {
                        ignored.push(ext);
                    }
                }
                "v" => {
                    txt::check_extension_value(&f)?;
                    ignored.push(ext);
                }
                _ => {
                    txt::check_extension_value(&f)?;
                    extensions.push(ext);
                }
            }
        }
        let id = id.ok_or(RecordError::MissingId)?;
        Ok(Self {
            id: Cow::Borrowed(id),
            extensions,
            ignored,
        })
    }

    /// Select and parse the one `_mta-sts` record from a DNS answer, each RR
    /// given as its joined character-strings (STS-TXT-10, STS-TXT-11).
    ///
    /// ```
    /// use mta_sts_core::{StsRecord, error::SelectError};
    /// let answer = [b"v=spf1 -all".to_vec(), b"v=STSv1; id=1".to_vec()];
    /// assert_eq!(StsRecord::select(&answer).unwrap().id(), "1");
    /// let two = [b"v=STSv1; id=1".to_vec(), b"v=STSv1; id=2".to_vec()];
    /// assert_eq!(StsRecord::select(&two), Err(SelectError::Multiple { count: 2 }));
    /// ```
    pub fn select<R: AsRef<[u8]>>(answer: &'a [R]) -> Result<Self, crate::error::SelectError> {
        txt::select_one(answer, STS_VERSION_TAG, Self::parse)
    }

    /// Build a record from an id (checked: 1-32 ALPHA/DIGIT).
    pub fn new(id: impl Into<Cow<'a, str>>) -> Result<Self, RecordError> {
        let id = id.into();
        if !is_valid_id(&id) {
            return Err(RecordError::InvalidId {
                offset: 0,
                found: id.into_owned(),
            });
        }
        Ok(Self {
            id,
            extensions: Vec::new(),
            ignored: Vec::new(),
        })
    }

    /// The policy instance id (compare for equality only; STS-TXT-05).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Extension fields in record order.
    pub fn extensions(&self) -> &[TxtExtension<'a>] {
        &self.extensions
    }

    /// Repeated `v`/`id` fields that were ignored (STS-TXT-09).
    pub fn ignored(&self) -> &[TxtExtension<'a>] {
        &self.ignored
    }

    /// An owned copy.
    pub fn into_owned(self) -> StsRecord<'static> {
        StsRecord {
            id: Cow::Owned(self.id.into_owned()),
            extensions: TxtExtension::all_into_owned(self.extensions),
            ignored: TxtExtension::all_into_owned(self.ignored),
        }
    }
}

impl fmt::Display for StsRecord<'_> {
    /// The canonical form: `v=STSv1; id=ID` then `; name=value` per extension.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STS_VERSION_TAG}; id={}", self.id)?;
        for e in &self.extensions {
            write!(f, "; {}={}", e.name, e.value)?;
        }
        Ok(())
    }
}

impl FromStr for StsRecord<'static> {
    type Err = RecordError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StsRecord::parse(s).map(StsRecord::into_owned)
    }
}

/// The Policy Domain for a delivery (RFC 8461 sections 1.1 and 3.4): the
/// administratively configured smart host's domain when mail is routed
/// through one (STS-TXT-14), otherwise the recipient address's domain
/// (STS-TXT-17), exactly as written without parent-zone fallback
/// (STS-TXT-15), lower-cased, one trailing dot removed. `None` for address
/// literals (`user@[192.0.2.1]`), which have no policy (STS-TXT-16), and
/// for addresses without a domain.
///
/// ```
/// use mta_sts_core::record::policy_domain;
/// assert_eq!(policy_domain("alice@Mail.Example.com", None).as_deref(), Some("mail.example.com"));
/// assert_eq!(policy_domain("alice@example.com", Some("relay.example.net")).as_deref(), Some("relay.example.net"));
/// assert_eq!(policy_domain("bob@[192.0.2.1]", None), None);
/// ```
pub fn policy_domain(recipient: &str, smart_host: Option<&str>) -> Option<String> {
    let domain = match smart_host {
        Some(h) => h,
        None => recipient.rsplit_once('@')?.1,
    };
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() || domain.starts_with('[') {
        return None;
    }
    Some(domain.to_ascii_lowercase())
}
