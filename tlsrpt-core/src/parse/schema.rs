//! The schema walk: objects and arrays of the RFC 8460 report (report,
//! `date-range`, `policies` element, `policy`, `summary`,
//! `failure-details` element), one `match` on the member enum per object
//! (see `names.rs`), with the lenient deviations DEC-16 to DEC-25.

use std::borrow::Cow;

use mta_sts_core::ResultType;

use super::lex::Seen;
use super::names::{
    DateRangeMember, FailureDetailMember, Name, Names, PolicyMember, PolicyResultMember,
    SummaryMember, TopMember,
};
use super::pointer::Seg;
use super::warning::WarningCode as W;
use super::{K, Parser, R};
use crate::error::ReportError;
use crate::report::{
    DateRange, Extension, FailureDetail, PolicyInfo, PolicyResult, PolicyType, Report, Summary,
};

/// A `failure-details` array at least this long makes the reader keep a
/// scratch vector for the report's later arrays (see `Parser::scratch`).
const SCRATCH_FROM: usize = 256;

impl<'a> Parser<'a> {
    /// Iterate over the members of an object. Members named in `names`
    /// go to `member` (duplicates are errors, and the path names the
    /// member while it runs); unknown members are kept in `ext`. Errors of
    /// the object's own syntax, member names included, name the object.
    #[inline(always)]
    fn object<M: Copy>(
        &mut self,
        what: &'static str,
        names: &'static Names<M>,
        mut member: impl FnMut(&mut Self, M) -> R<()>,
        ext: &mut Vec<Extension<'a>>,
    ) -> R<()> {
        if self.peek() != Some(b'{') {
            return Err(self.err(K::WrongType(what)));
        }
        self.pos += 1;
        let mut known = 0u32;
        // Names of unknown members, made on the first one.
        let mut unknown: Option<Seen<'a>> = None;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        self.with_members(|p, slot| {
            loop {
                let at = p.pos;
                if p.peek() != Some(b'"') {
                    return Err(p.outside_member(slot, |p| p.err(K::WrongType("a string"))));
                }
                let start = p.pos + 1;
                // Fast path: a known name written plainly, followed by `:`.
                let (name, key) = match names.find_at(p.b, start) {
                    Some(name) => {
                        p.pos = start + name.len;
                        (Some(name), None)
                    }
                    None => {
                        let (name, k) = p.outside_member(slot, |p| p.member_name(names))?;
                        (name, Some(k))
                    }
                };
                match name {
                    Some(name) => {
                        if known & name.bit != 0 {
                            return Err(p.outside_member(slot, |p| p.duplicate(name.name, at)));
                        }
                        known |= name.bit;
                        p.name_member(slot, Seg::Key(name.name));
                        member(p, name.member)?;
                    }
                    None => p.outside_member(slot, |p| {
                        let key = key.unwrap_or_default();
                        if !unknown.get_or_insert_with(Seen::new).insert(key.clone()) {
                            return Err(p.err_at(at, K::DuplicateMember(key.into_owned())));
                        }
                        let raw = p.raw_value(1)?;
                        ext.push(Extension {
                            name: key,
                            raw_json: Cow::Borrowed(raw),
                        });
                        Ok(())
                    })?,
                }
                match p.peek() {
                    Some(b',') => p.pos += 1,
                    Some(b'}') => {
                        p.pos += 1;
                        return Ok(());
                    }
                    _ => return Err(p.outside_member(slot, |p| p.err(K::Syntax("`,` or `}`")))),
                }
            }
        })
    }

    /// Any member name but a known one written plainly: read as a string
    /// (escapes included) with its `:`, then looked up. Out of line: most
    /// names take the fast path.
    #[cold]
    #[inline(never)]
    fn member_name<M: Copy>(
        &mut self,
        names: &'static Names<M>,
    ) -> R<(Option<&'static Name<M>>, Cow<'a, str>)> {
        let k = self.string()?;
        self.expect(b':', "`:`")?;
        Ok((names.get(&k), k))
    }

    /// Unknown members of an object the model has no room for
    /// (`date-range`, `summary`): an error in strict mode, ignored with a
    /// warning in lenient mode.
    #[inline]
    fn drop_unknown(&mut self, ext: &[Extension<'a>], object: &'static str) -> R<()> {
        if ext.is_empty() {
            Ok(())
        } else {
            self.drop_unknown_members(ext, object)
        }
    }

    #[cold]
    #[inline(never)]
    fn drop_unknown_members(&mut self, ext: &[Extension<'a>], object: &'static str) -> R<()> {
        let names: Vec<&str> = ext.iter().map(|e| e.name.as_ref()).collect();
        let names = names.join(", ");
        let reason = if object == "summary" {
            "unknown member of summary"
        } else {
            "unknown member of date-range"
        };
        let message = format!("unknown {object} members ignored: {names}");
        self.deviation(
            || K::InvalidValue {
                value: names,
                reason,
            },
            W::UnknownMemberDropped,
            message,
        )
    }

    #[cold]
    #[inline(never)]
    fn duplicate(&self, name: &'static str, at: usize) -> Box<ReportError> {
        self.err_at(at, K::DuplicateMember(name.to_owned()))
    }

    /// Iterate over the elements of an array; the path names the element
    /// while `item` runs.
    fn array(&mut self, mut item: impl FnMut(&mut Self, usize) -> R<()>) -> R<()> {
        if self.peek() != Some(b'[') {
            return Err(self.err(K::WrongType("an array")));
        }
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        let mut i = 0;
        loop {
            self.with_segment(Seg::Index(i), |p| item(p, i))?;
            i += 1;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err(K::Syntax("`,` or `]`"))),
            }
        }
    }

    pub(super) fn string_array(&mut self) -> R<Vec<Cow<'a, str>>> {
        let mut v = Vec::new();
        self.array(|p, i| {
            if i >= super::MAX_STRINGS {
                return Err(p.err(K::TooManyStrings(super::MAX_STRINGS)));
            }
            if i == 0 {
                // One allocation for the usual few lines (policy-string,
                // mx-host), made directly.
                v = Vec::with_capacity(4);
            }
            v.push(p.string()?);
            Ok(())
        })?;
        Ok(v)
    }

    /// The report object, written into `out`.
    pub(super) fn top(&mut self, out: &mut Report<'a>) -> R<()> {
        let mut org = None;
        let mut range = None;
        let mut contact: Option<Option<Cow<'a, str>>> = None;
        let mut id = None;
        let mut policies = None;
        let mut ext = Vec::new();
        self.object(
            "an object (the report)",
            TopMember::NAMES,
            |p, member| {
                match member {
                    TopMember::OrganizationName => org = Some(p.string()?),
                    TopMember::DateRange => range = Some(p.date_range()?),
                    TopMember::ContactInfo => contact = Some(p.contact_info()?),
                    TopMember::ReportId => id = Some(p.string()?),
                    TopMember::Policies => policies = Some(p.policies()?),
                }
                Ok(())
            },
            &mut ext,
        )?;
        let end = self.pos;
        let missing = |p: &Self, m: TopMember| p.err_at(end, K::MissingMember(m.name()));
        let organization_name = org.ok_or_else(|| missing(self, TopMember::OrganizationName))?;
        let date_range = range.ok_or_else(|| missing(self, TopMember::DateRange))?;
        let report_id = id.ok_or_else(|| missing(self, TopMember::ReportId))?;
        let policies = policies.ok_or_else(|| missing(self, TopMember::Policies))?;
        let contact_info = match contact {
            Some(c) => c,
            None => {
                if self.strict {
                    return Err(missing(self, TopMember::ContactInfo));
                }
                self.warn(
                    W::ContactInfoMissing,
                    "contact-info is missing; read as unknown",
                );
                None
            }
        };
        if date_range.end < date_range.start {
            self.warn(
                W::DateRangeReversed,
                "end-datetime is before start-datetime",
            );
        }
        *out = Report {
            organization_name,
            date_range,
            contact_info,
            report_id,
            policies,
            extensions: ext,
        };
        Ok(())
    }

    fn date_range(&mut self) -> R<DateRange> {
        let (mut start, mut end) = (None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (date-range)",
            DateRangeMember::NAMES,
            |p, member| {
                match member {
                    DateRangeMember::StartDatetime => start = Some(p.date()?),
                    DateRangeMember::EndDatetime => end = Some(p.date()?),
                }
                Ok(())
            },
            &mut ext,
        )?;
        self.drop_unknown(&ext, "date-range")?;
        let end_pos = self.pos;
        let missing = |p: &Self, m: DateRangeMember| p.err_at(end_pos, K::MissingMember(m.name()));
        Ok(DateRange {
            start: start.ok_or_else(|| missing(self, DateRangeMember::StartDatetime))?,
            end: end.ok_or_else(|| missing(self, DateRangeMember::EndDatetime))?,
        })
    }

    fn policies(&mut self) -> R<Vec<PolicyResult<'a>>> {
        let mut v = Vec::new();
        if self.peek() == Some(b'{') {
            // DEC-19: a single object instead of an array (RPT-JSON-03).
            self.deviation(
                || K::WrongType("an array (RPT-JSON-03)"),
                W::PoliciesObject,
                "policies is an object, not an array; read as a one-element array",
            )?;
            self.with_segment(Seg::Index(0), |p| p.policy_result(&mut v))?;
            return Ok(v);
        }
        self.array(|p, _| p.policy_result(&mut v))?;
        Ok(v)
    }

    /// One `policies` element, appended to `out` (built in place, not
    /// moved there).
    fn policy_result(&mut self, out: &mut Vec<PolicyResult<'a>>) -> R<()> {
        let (mut policy, mut summary, mut details) = (None, None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (policies element)",
            PolicyResultMember::NAMES,
            |p, member| {
                match member {
                    PolicyResultMember::Policy => policy = Some(p.policy_info()?),
                    PolicyResultMember::Summary => summary = Some(p.summary()?),
                    PolicyResultMember::FailureDetails => details = Some(p.failure_details()?),
                }
                Ok(())
            },
            &mut ext,
        )?;
        let end = self.pos;
        let missing = |p: &Self, m: PolicyResultMember| p.err_at(end, K::MissingMember(m.name()));
        let policy = policy.ok_or_else(|| missing(self, PolicyResultMember::Policy))?;
        let summary = summary.ok_or_else(|| missing(self, PolicyResultMember::Summary))?;
        let failure_details = match details {
            Some(d) => d,
            None => {
                if self.strict {
                    return Err(missing(self, PolicyResultMember::FailureDetails));
                }
                self.warn(
                    W::FailureDetailsMissing,
                    "failure-details is missing; read as no failure details",
                );
                Vec::new()
            }
        };
        let sum = failure_details
            .iter()
            .map(|d| d.failed_session_count)
            .fold(0u64, u64::saturating_add);
        if sum != summary.total_failure_session_count {
            self.warn(
                W::FailureCountMismatch,
                format!(
                    "total-failure-session-count is {} but the failure details add up to {sum} (RFC 8460 allows overlapping failure types)",
                    summary.total_failure_session_count
                ),
            );
        }
        out.push(PolicyResult {
            policy,
            summary,
            failure_details,
            extensions: ext,
        });
        Ok(())
    }

    /// A `failure-details` array.
    #[inline(always)]
    fn failure_details(&mut self) -> R<Vec<FailureDetail<'a>>> {
        // The first array of the report goes straight into its own vector;
        // only a report with large arrays keeps the scratch vector for the
        // rest.
        let mut scratch = std::mem::take(&mut self.scratch);
        let reused = scratch.capacity() > 0;
        scratch.clear();
        self.array(|p, _| p.failure_detail(&mut scratch))?;
        Ok(if reused {
            let mut d = Vec::with_capacity(scratch.len());
            d.append(&mut scratch);
            self.scratch = scratch;
            d
        } else {
            if scratch.len() >= SCRATCH_FROM {
                self.scratch = Vec::with_capacity(scratch.len());
            }
            scratch
        })
    }

    fn policy_info(&mut self) -> R<PolicyInfo<'a>> {
        let (mut ptype, mut pstring, mut domain, mut mx) = (None, None, None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (policy)",
            PolicyMember::NAMES,
            |p, member| {
                match member {
                    PolicyMember::PolicyType => ptype = Some(p.policy_type()?),
                    PolicyMember::PolicyString => {
                        if p.peek() == Some(b'"') {
                            p.deviation(
                                || K::WrongType("an array of strings"),
                                W::PolicyStringString,
                                "policy-string is a string, not an array; read as one line",
                            )?;
                            pstring = Some(vec![p.string()?]);
                        } else {
                            pstring = Some(p.string_array()?);
                        }
                    }
                    PolicyMember::PolicyDomain => domain = Some(p.string()?),
                    PolicyMember::MxHost => mx = Some(p.mx_host()?),
                }
                Ok(())
            },
            &mut ext,
        )?;
        let end = self.pos;
        let missing = |p: &Self, m: PolicyMember| p.err_at(end, K::MissingMember(m.name()));
        let policy_type = ptype.ok_or_else(|| missing(self, PolicyMember::PolicyType))?;
        let no_policy = policy_type == PolicyType::NoPolicyFound;
        let mut policy_string = match pstring {
            Some(s) => s,
            None if no_policy => Vec::new(), // DEC-25
            None => {
                if self.strict {
                    return Err(missing(self, PolicyMember::PolicyString));
                }
                self.warn(W::PolicyStringMissing, "policy-string is missing");
                Vec::new()
            }
        };
        if domain.is_none() {
            if self.strict {
                return Err(missing(self, PolicyMember::PolicyDomain));
            }
            self.warn(W::PolicyDomainMissing, "policy-domain is missing");
        }
        let mx_host = match mx {
            Some(m) => m,
            None if policy_type == PolicyType::Sts => {
                if self.strict {
                    return Err(missing(self, PolicyMember::MxHost));
                }
                self.warn(W::MxHostMissing, "mx-host is missing for an sts policy");
                Vec::new()
            }
            None => Vec::new(),
        };
        // DEC-24: Microsoft's double-encoded TLSA policy-string.
        if policy_type == PolicyType::Tlsa
            && policy_string.len() == 1
            && policy_string[0].trim_start().starts_with('[')
        {
            self.double_encoded(&mut policy_string)?;
        }
        Ok(PolicyInfo {
            policy_type,
            policy_string,
            policy_domain: domain,
            mx_host,
            extensions: ext,
        })
    }

    /// `policy-type`; a registered type in upper case is a deviation.
    fn policy_type(&mut self) -> R<PolicyType> {
        let s = self.string()?;
        let mut t = PolicyType::from_json(&s);
        if let PolicyType::Other(o) = &t
            && o.bytes().any(|c| c.is_ascii_uppercase())
        {
            let lower = o.to_ascii_lowercase();
            let known = PolicyType::from_json(&lower);
            if !matches!(known, PolicyType::Other(_)) {
                self.deviation(
                    || K::InvalidValue {
                        value: o.clone(),
                        reason: "policy types are lower case",
                    },
                    W::PolicyTypeCase,
                    format!("policy-type `{o}` read as `{lower}`"),
                )?;
                t = known;
            }
        }
        Ok(t)
    }

    /// DEC-24: a TLSA `policy-string` whose one line is a JSON-encoded
    /// array of strings is read as that array (a deviation).
    fn double_encoded(&mut self, policy_string: &mut Vec<Cow<'a, str>>) -> R<()> {
        let Some(line) = policy_string.first_mut() else {
            return Ok(());
        };
        let inner = std::mem::take(line);
        let decoded = {
            let mut sub = Parser::new(inner.as_bytes(), true);
            sub.src = &inner;
            sub.string_array()
                .ok()
                .filter(|_| {
                    sub.ws();
                    sub.pos == sub.b.len()
                })
                .map(|items| {
                    items
                        .into_iter()
                        .map(|c| Cow::<'a, str>::Owned(c.into_owned()))
                        .collect::<Vec<_>>()
                })
        };
        match decoded {
            None => *line = inner,
            Some(items) => {
                self.with_segment(Seg::Key(PolicyMember::PolicyString.name()), |p| {
                    p.deviation(
                        || K::InvalidValue {
                            value: inner.to_string(),
                            reason: "a JSON-encoded array inside one string",
                        },
                        W::PolicyStringDoubleEncoded,
                        format!(
                            "tlsa policy-string holds a JSON-encoded array; read as its {} records",
                            items.len()
                        ),
                    )
                })?;
                *policy_string = items;
            }
        }
        Ok(())
    }

    fn mx_host(&mut self) -> R<Vec<Cow<'a, str>>> {
        let mut v = if self.peek() == Some(b'"') {
            // DEC-16 / erratum 6241: a bare string.
            self.deviation(
                || K::WrongType("an array of strings (erratum 6241)"),
                W::MxHostString,
                "mx-host is a string, not an array (RFC 8460 erratum 6241); read as a one-element array",
            )?;
            vec![self.string()?]
        } else {
            self.string_array()?
        };
        for (i, m) in v.iter_mut().enumerate() {
            if m.starts_with("mx:") {
                // Every repeated prefix goes, so reading the written report
                // again gives the same value.
                let mut rest: &str = m;
                while let Some(r) = rest.strip_prefix("mx:") {
                    rest = r.trim_start();
                }
                let rest = rest.to_owned();
                self.with_segment(Seg::Index(i), |p| {
                    p.deviation(
                        || K::InvalidValue {
                            value: m.to_string(),
                            reason: "an `mx: ` prefix in mx-host",
                        },
                        W::MxHostPrefix,
                        format!("mx-host `{m}` carries an `mx:` prefix; read as `{rest}`"),
                    )
                })?;
                *m = Cow::Owned(rest);
            }
        }
        Ok(v)
    }

    fn summary(&mut self) -> R<Summary> {
        let (mut ok, mut failed) = (None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (summary)",
            SummaryMember::NAMES,
            |p, member| {
                match member {
                    SummaryMember::TotalSuccessfulSessionCount => ok = Some(p.count()?),
                    SummaryMember::TotalFailureSessionCount => failed = Some(p.count()?),
                }
                Ok(())
            },
            &mut ext,
        )?;
        self.drop_unknown(&ext, "summary")?;
        let end = self.pos;
        let get = |p: &mut Self, v: Option<u64>, m: SummaryMember| -> R<u64> {
            match v {
                Some(v) => Ok(v),
                None => {
                    let message = match m {
                        SummaryMember::TotalSuccessfulSessionCount => {
                            "total-successful-session-count is missing; read as 0"
                        }
                        SummaryMember::TotalFailureSessionCount => {
                            "total-failure-session-count is missing; read as 0"
                        }
                    };
                    p.deviation(|| K::MissingMember(m.name()), W::CountMissing, message)
                        .map_err(|mut e| {
                            e.offset = end;
                            e
                        })?;
                    Ok(0)
                }
            }
        };
        Ok(Summary {
            total_successful_session_count: get(
                self,
                ok,
                SummaryMember::TotalSuccessfulSessionCount,
            )?,
            total_failure_session_count: get(
                self,
                failed,
                SummaryMember::TotalFailureSessionCount,
            )?,
        })
    }

    /// One `failure-details` element, appended to `out` (built in place,
    /// not moved there).
    fn failure_detail(&mut self, out: &mut Vec<FailureDetail<'a>>) -> R<()> {
        let mut rt = None;
        let (mut smi, mut rmh, mut helo, mut rip, mut count, mut info, mut code) =
            (None, None, None, None, None, None, None);
        let mut ext = Vec::new();
        self.object(
            "an object (failure-details element)",
            FailureDetailMember::NAMES,
            |p, member| {
                match member {
                    FailureDetailMember::ResultType => rt = Some(p.result_type()?),
                    FailureDetailMember::SendingMtaIp => smi = Some(p.ip()?),
                    FailureDetailMember::ReceivingMxHostname => rmh = Some(p.string()?),
                    FailureDetailMember::ReceivingMxHelo => helo = Some(p.string()?),
                    FailureDetailMember::ReceivingIp => rip = Some(p.ip()?),
                    FailureDetailMember::FailedSessionCount => count = Some(p.count()?),
                    FailureDetailMember::AdditionalInformation => info = Some(p.string()?),
                    FailureDetailMember::FailureReasonCode => code = Some(p.string()?),
                }
                Ok(())
            },
            &mut ext,
        )?;
        let end = self.pos;
        let missing = |p: &Self, m: FailureDetailMember| p.err_at(end, K::MissingMember(m.name()));
        let result_type = rt.ok_or_else(|| missing(self, FailureDetailMember::ResultType))?;
        let failed_session_count =
            count.ok_or_else(|| missing(self, FailureDetailMember::FailedSessionCount))?;
        for (present, m, message) in [
            (
                smi.is_some(),
                FailureDetailMember::SendingMtaIp,
                "sending-mta-ip is missing",
            ),
            (
                rmh.is_some(),
                FailureDetailMember::ReceivingMxHostname,
                "receiving-mx-hostname is missing",
            ),
        ] {
            if !present {
                if self.strict {
                    return Err(missing(self, m));
                }
                self.warn(W::FailureDetailMemberMissing, message);
            }
        }
        out.push(FailureDetail {
            result_type,
            sending_mta_ip: smi,
            receiving_mx_hostname: rmh,
            receiving_mx_helo: helo,
            receiving_ip: rip,
            failed_session_count,
            additional_information: info,
            failure_reason_code: code,
            extensions: ext,
        });
        Ok(())
    }

    /// `result-type`; a registered type in upper case is a deviation.
    fn result_type(&mut self) -> R<ResultType> {
        let s = self.string()?;
        let Ok(mut t) = s.parse::<ResultType>();
        if !t.is_registered() && s.bytes().any(|c| c.is_ascii_uppercase()) {
            let lower = s.to_ascii_lowercase();
            let Ok(known) = lower.parse::<ResultType>();
            if known.is_registered() {
                self.deviation(
                    || K::InvalidValue {
                        value: s.to_string(),
                        reason: "result types are lower case",
                    },
                    W::ResultTypeCase,
                    format!("result-type `{s}` read as `{lower}`"),
                )?;
                t = known;
            }
        }
        Ok(t)
    }
}
