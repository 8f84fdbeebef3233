//! Per-domain TLS-RPT metrics for Prometheus, on the metrics listener of
//! `mtasts serve` (`--metrics ADDR`, `GET /metrics`), next to the
//! server's own families:
//!
//! ```text
//! mtasts_tlsrpt_sessions_total{domain="example.com",result="successful"} 1200
//! mtasts_tlsrpt_sessions_total{domain="example.com",result="failed"} 3
//! mtasts_tlsrpt_failures_total{domain="example.com",result_type="certificate-expired"} 3
//! mtasts_tlsrpt_reports_total{domain="example.com"} 12
//! ```
//!
//! Sessions and failed sessions of every hosted domain over the stored
//! reports (the inbox's `(domain, day)` index: one indexed query per
//! domain), computed on the web side's refresh interval
//! ([`super::WebConfig::metrics_refresh`], 60 s), not per scrape. The
//! values are sums over the reports kept (`--retain-days`): retention can
//! lower them, which Prometheus treats as a counter reset.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use crate::inbox::store::ReportQuery;
use crate::store::{SiteStore, StoreError};

/// The counts of one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainCounts {
    /// Successful sessions.
    pub successful: u64,
    /// Failed sessions.
    pub failed: u64,
    /// Policies reported (one per report and policy).
    pub reports: u64,
    /// Failed sessions by result type.
    pub failures: BTreeMap<String, u64>,
}

/// The counts of every hosted domain, by name.
pub type Counts = BTreeMap<String, DomainCounts>;

/// The last computed counts (empty until the first refresh).
#[derive(Debug, Default)]
pub struct DomainMetrics {
    counts: RwLock<Arc<Counts>>,
}

/// Compute the counts of every hosted domain from `store` (blocking).
///
/// # Errors
///
/// [`StoreError`] when the store fails.
pub fn compute(store: &dyn SiteStore) -> Result<Counts, StoreError> {
    let mut out = Counts::new();
    let all = ReportQuery::default();
    for d in store.domains()? {
        let mut c = DomainCounts::default();
        for p in store.inbox().policy_counts(&d.name, &all)? {
            c.successful = c.successful.saturating_add(p.successful);
            c.failed = c.failed.saturating_add(p.failed);
            c.reports = c.reports.saturating_add(p.policies);
        }
        for f in store.inbox().failure_counts(&d.name, &all)? {
            let e = c.failures.entry(f.result_type).or_default();
            *e = e.saturating_add(f.failed);
        }
        out.insert(d.name, c);
    }
    Ok(out)
}

/// A label value escaped for the text exposition format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl DomainMetrics {
    /// Serve `counts` from now on.
    pub fn publish(&self, counts: Counts) {
        *self
            .counts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(counts);
    }

    /// The counts served now.
    #[must_use]
    pub fn counts(&self) -> Arc<Counts> {
        Arc::clone(
            &self
                .counts
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The families in the Prometheus text format (0.0.4).
    #[must_use]
    pub fn render(&self) -> String {
        let counts = self.counts();
        let mut out = String::new();
        out.push_str("# HELP mtasts_tlsrpt_sessions_total TLS sessions reported in the stored TLS-RPT reports, by policy domain and result.\n# TYPE mtasts_tlsrpt_sessions_total counter\n");
        for (d, c) in counts.iter() {
            let d = label(d);
            let _ = writeln!(
                out,
                "mtasts_tlsrpt_sessions_total{{domain=\"{d}\",result=\"successful\"}} {}",
                c.successful
            );
            let _ = writeln!(
                out,
                "mtasts_tlsrpt_sessions_total{{domain=\"{d}\",result=\"failed\"}} {}",
                c.failed
            );
        }
        out.push_str("# HELP mtasts_tlsrpt_failures_total Failed sessions in the stored TLS-RPT reports, by policy domain and result type.\n# TYPE mtasts_tlsrpt_failures_total counter\n");
        for (d, c) in counts.iter() {
            let d = label(d);
            for (rt, n) in &c.failures {
                let _ = writeln!(
                    out,
                    "mtasts_tlsrpt_failures_total{{domain=\"{d}\",result_type=\"{}\"}} {n}",
                    label(rt)
                );
            }
        }
        out.push_str("# HELP mtasts_tlsrpt_reports_total Stored TLS-RPT report policies, by policy domain.\n# TYPE mtasts_tlsrpt_reports_total counter\n");
        for (d, c) in counts.iter() {
            let _ = writeln!(
                out,
                "mtasts_tlsrpt_reports_total{{domain=\"{}\"}} {}",
                label(d),
                c.reports
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = DomainMetrics::default();
        let mut c = Counts::new();
        c.insert(
            "example.com".into(),
            DomainCounts {
                successful: 5,
                failed: 2,
                reports: 1,
                failures: [("certificate-expired".to_owned(), 2)].into(),
            },
        );
        m.publish(c);
        let t = m.render();
        assert!(
            t.contains(
                "mtasts_tlsrpt_sessions_total{domain=\"example.com\",result=\"successful\"} 5\n"
            ),
            "{t}"
        );
        assert!(t.contains("mtasts_tlsrpt_failures_total{domain=\"example.com\",result_type=\"certificate-expired\"} 2\n"), "{t}");
        assert!(
            t.contains("mtasts_tlsrpt_reports_total{domain=\"example.com\"} 1\n"),
            "{t}"
        );
    }
}
