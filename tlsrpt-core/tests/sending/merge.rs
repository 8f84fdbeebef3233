//! Properties of merging partial aggregates: commutative, associative,
//! nothing lost, and the JSON form a faithful copy — with limits small
//! enough that policies and failure rows are left out and folded.

use proptest::prelude::*;
use tlsrpt_core::session::{
    AggregateLimits, DayAggregate, Failure, Outcome, PolicyKey, SessionResult,
};
use tlsrpt_core::{Report, ResultType};

use crate::{day, meta};

const LIMITS: AggregateLimits = AggregateLimits {
    max_policies: 3,
    max_failure_rows: 2,
};

fn keys() -> Vec<PolicyKey> {
    let mut k: Vec<PolicyKey> = (0..4)
        .map(|i| PolicyKey::no_policy_found(&format!("d{i}.example")).unwrap())
        .collect();
    k.push(
        PolicyKey::sts(
            "d1.example",
            ["version: STSv1", "mode: enforce"],
            ["mx.d1.example"],
        )
        .unwrap(),
    );
    k.push(PolicyKey::tlsa("d2.example", ["3 1 1 ab"], ["mx.d2.example"]).unwrap());
    k
}

fn failures() -> Vec<Failure> {
    let types = [
        ResultType::StarttlsNotSupported,
        ResultType::CertificateExpired,
        ResultType::Other("x-new".into()),
    ];
    let mut v = Vec::new();
    for t in types {
        for mx in ["mx1.example", "mx2.example"] {
            v.push(
                Failure::new(t.clone())
                    .receiving_mx_hostname(mx)
                    .sending_mta_ip("192.0.2.1".parse().unwrap()),
            );
        }
    }
    v
}

/// One recorded session: key index, failed, failure indices.
type Rec = (usize, bool, Vec<usize>);

fn recs() -> impl Strategy<Value = Vec<Rec>> {
    proptest::collection::vec(
        (
            0usize..6,
            any::<bool>(),
            proptest::collection::vec(0usize..6, 0..3),
        ),
        0..40,
    )
}

fn build(recs: &[Rec], limits: AggregateLimits) -> DayAggregate {
    let (k, f) = (keys(), failures());
    let mut d = DayAggregate::with_limits(day(), limits);
    for (ki, failed, fs) in recs {
        let details: Vec<Failure> = fs.iter().map(|&i| f[i].clone()).collect();
        let result = if *failed {
            SessionResult::Failed
        } else {
            SessionResult::Successful
        };
        d.record_session(&k[*ki], result, &details).unwrap();
    }
    d
}

fn merged(a: &DayAggregate, b: &DayAggregate) -> DayAggregate {
    let mut m = a.clone();
    m.merge(b).unwrap();
    m
}

fn reports(d: &DayAggregate) -> Vec<Report<'static>> {
    d.finish(&meta()).unwrap().reports
}

/// All sessions of `d`: in reports plus unreported.
fn sessions(d: &DayAggregate) -> (u64, u64) {
    let t = d.totals();
    let u = d.unreported();
    (
        t.successful_sessions + u.successful_sessions,
        t.failed_sessions + u.failed_sessions,
    )
}

fn count(recs: &[Rec]) -> (u64, u64) {
    let failed = recs.iter().filter(|r| r.1).count() as u64;
    (recs.len() as u64 - failed, failed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merge_is_commutative_and_associative(a in recs(), b in recs(), c in recs()) {
        let (a, b, c) = (build(&a, LIMITS), build(&b, LIMITS), build(&c, LIMITS));
        let ab = merged(&a, &b);
        let ba = merged(&b, &a);
        prop_assert_eq!(&ab, &ba);
        prop_assert_eq!(ab.to_json(), ba.to_json());
        prop_assert_eq!(reports(&ab), reports(&ba));
        let ab_c = merged(&ab, &c);
        let a_bc = merged(&a, &merged(&b, &c));
        prop_assert_eq!(&ab_c, &a_bc);
        prop_assert_eq!(ab_c.to_json(), a_bc.to_json());
        // An empty aggregate is the identity.
        prop_assert_eq!(merged(&a, &DayAggregate::with_limits(day(), LIMITS)), a.clone());
        prop_assert_eq!(merged(&DayAggregate::with_limits(day(), LIMITS), &a), a);
    }

    #[test]
    fn no_session_is_lost(a in recs(), b in recs()) {
        let (da, db) = (build(&a, LIMITS), build(&b, LIMITS));
        prop_assert_eq!(sessions(&da), count(&a));
        let m = merged(&da, &db);
        let (ca, cb) = (count(&a), count(&b));
        prop_assert_eq!(sessions(&m), (ca.0 + cb.0, ca.1 + cb.1));
        prop_assert!(m.policies() <= LIMITS.max_policies);
        // The reports hold what the aggregate holds, and read back.
        let rs = reports(&m);
        let ok: u64 = rs.iter().map(Report::successful_sessions).sum();
        let failed: u64 = rs.iter().map(Report::failed_sessions).sum();
        prop_assert_eq!((ok, failed), (m.totals().successful_sessions, m.totals().failed_sessions));
        for r in &rs {
            for p in &r.policies {
                prop_assert!(p.failure_details.len() <= LIMITS.max_failure_rows + 3);
            }
            let json = r.to_json(false);
            let read = Report::parse_strict(json.as_bytes()).unwrap();
            prop_assert_eq!(&read.value, r);
        }
    }

    #[test]
    fn json_form_is_a_faithful_copy(a in recs()) {
        let d = build(&a, LIMITS);
        let json = d.to_json();
        let back = DayAggregate::from_json(json.as_bytes(), LIMITS).unwrap();
        prop_assert_eq!(&back, &d);
        prop_assert_eq!(back.to_json(), json);
    }

    #[test]
    fn without_limits_merging_parts_equals_recording_everything(a in recs(), b in recs()) {
        let unlimited = AggregateLimits::default();
        let mut all = a.clone();
        all.extend(b.iter().cloned());
        let whole = build(&all, unlimited);
        let m = merged(&build(&a, unlimited), &build(&b, unlimited));
        prop_assert_eq!(&m, &whole);
        prop_assert_eq!(reports(&m), reports(&whole));
    }

    #[test]
    fn recording_order_does_not_matter_for_failure_rows(a in recs()) {
        // Only one policy, so the policy limit (first come) plays no part.
        let one: Vec<Rec> = a.iter().map(|(_, f, d)| (0, *f, d.clone())).collect();
        let mut rev = one.clone();
        rev.reverse();
        let x = build(&one, LIMITS);
        let y = build(&rev, LIMITS);
        prop_assert_eq!(x.to_json(), y.to_json());
        prop_assert_eq!(x.folded_failure_details(), y.folded_failure_details());
    }
}

#[test]
fn record_and_outcome_agree() {
    let k = keys();
    let f = failures();
    let mut x = DayAggregate::new(day());
    let mut y = DayAggregate::new(day());
    x.record(&k[0], &Outcome::Failure(f[1].clone())).unwrap();
    x.record(&k[0], &Outcome::Success).unwrap();
    y.record_session(&k[0], SessionResult::Failed, std::slice::from_ref(&f[1]))
        .unwrap();
    y.record_session(&k[0], SessionResult::Successful, &[])
        .unwrap();
    assert_eq!(x, y);
}
