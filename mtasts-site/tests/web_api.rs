//! The JSON API of `mtasts serve` against its OpenAPI file: a real
//! `serve::Server` over a SqliteStore with hosted domains and corpus
//! reports ingested through `Inbox::ingest`, every route called over
//! HTTPS and each answer validated against `openapi.json`; the summary
//! route equals `report summarize` over the same files; the report
//! endpoint `POST /v1/tlsrpt` (201, 200, 400, 413, 415); `/healthz`; the
//! per-domain Prometheus families.

mod web_common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};
use tlsrpt_core::input::{self, ReadOptions};
use tlsrpt_core::summary::Filter;
use tlsrpt_core::{Aggregator, Strictness};
use web_common::{FILES, Req, Site, check_response, openapi, root};

/// What `mtasts report summarize --json --domain D --since F --until T
/// FILES` prints, without its `inputs` member: tlsrpt-core's aggregator
/// over the same files, as the command runs it.
fn summarize_files(domain: &str, from: &str, to: &str) -> Value {
    let day =
        |s: &str| mta_sts_core::time::canonical_day(s.as_bytes().try_into().unwrap()).unwrap();
    let filter = Filter::new()
        .since(day(from))
        .until(day(to))
        .policy_domain(domain);
    let mut agg = Aggregator::with_max_groups(tlsrpt_core::summary::MAX_GROUPS)
        .filter(filter)
        .readiness_window(tlsrpt_core::alert::READINESS_DAYS, Some(day(to)));
    for f in FILES {
        let bytes = std::fs::read(root().join(f)).unwrap();
        let read = input::read_report(
            &bytes,
            &ReadOptions {
                limits: input::Limits::default(),
                strictness: Strictness::Lenient,
            },
        )
        .unwrap();
        agg.add(&read.value.report, f);
    }
    let mut v = serde_json::to_value(agg.into_summary()).unwrap();
    v.as_object_mut().unwrap().insert(
        "filter".into(),
        json!({"since": from, "until": to, "domains": [domain]}),
    );
    v
}

fn report_json(org: &str, id: &str, domain: &str, failed: u64) -> String {
    format!(
        r#"{{"organization-name":"{org}","date-range":{{"start-datetime":"2026-11-30T00:00:00Z","end-datetime":"2026-11-30T23:59:59Z"}},"contact-info":"tlsrpt@{org}","report-id":"{id}","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.{domain}","max_age: 86400"],"policy-domain":"{domain}","mx-host":["mx.{domain}"]}},"summary":{{"total-successful-session-count":10,"total-failure-session-count":{failed}}},"failure-details":[{{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx.{domain}","failed-session-count":{failed}}}]}}]}}"#
    )
}

#[tokio::test]
async fn every_api_route_answers_as_openapi_json_says() {
    let site = Site::start("api", |_| {}).await;
    let doc = openapi();
    let admin = site.tokens.admin.as_str();

    // The router's routes and openapi.json's paths are the same set.
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let served: BTreeSet<String> = mtasts_site::web::api::ROUTES
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    assert_eq!(documented, served);

    // GET /api/v1/domains, and its pages.
    let a = site.get("/api/v1/domains", Some(admin)).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/json")
    );
    let v = a.json();
    check_response(&doc, "/api/v1/domains", 200, &v);
    let names: Vec<&str> = v["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["company-y.example", "example.com", "random.net"]);
    let d0 = &v["domains"][0];
    assert_eq!(d0["mode"], "testing");
    let stored = site.store.domain("company-y.example").unwrap().unwrap();
    assert_eq!(d0["policy_id"], stored.current.id.as_str());
    assert_eq!(d0["mode_since"], "2015-01-01T00:00:00Z");
    assert!(d0["days_in_mode"].as_u64().unwrap() > 4000);
    assert_eq!(v["next_cursor"], Value::Null);
    let p1 = site
        .get("/api/v1/domains?limit=2", Some(admin))
        .await
        .json();
    check_response(&doc, "/api/v1/domains", 200, &p1);
    assert_eq!(p1["domains"].as_array().unwrap().len(), 2);
    assert_eq!(p1["next_cursor"], "example.com");
    let p2 = site
        .get("/api/v1/domains?limit=2&cursor=example.com", Some(admin))
        .await
        .json();
    assert_eq!(p2["domains"][0]["domain"], "random.net");
    assert_eq!(p2["next_cursor"], Value::Null);

    // One domain: policy, id, DNS records.
    let v = site
        .get("/api/v1/domains/example.com", Some(admin))
        .await
        .json();
    check_response(&doc, "/api/v1/domains/{domain}", 200, &v);
    let stored = site.store.domain("example.com").unwrap().unwrap();
    assert_eq!(v["policy"], stored.current.body.as_str());
    assert_eq!(v["mx"], json!(["*.mail.example.com", "mx.example.com"]));
    let lines: Vec<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["zone_line"].as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            format!(
                "_mta-sts.example.com. IN TXT \"v=STSv1; id={}\"",
                stored.current.id
            ),
            "mta-sts.example.com. IN CNAME sts.host.example.net.".to_owned(),
            "_smtp._tls.example.com. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\""
                .to_owned(),
        ]
    );

    // The summary equals `report summarize` over the same files.
    for (d, from, to) in [
        ("example.com", "2020-01-01", "2024-12-31"),
        ("company-y.example", "2016-01-01", "2016-12-31"),
        ("example.com", "2024-01-01", "2024-12-31"),
    ] {
        let a = site
            .get(
                &format!("/api/v1/domains/{d}/summary?from={from}&to={to}"),
                Some(admin),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        let v = a.json();
        check_response(&doc, "/api/v1/domains/{domain}/summary", 200, &v);
        assert_eq!(v, summarize_files(d, from, to), "{d} {from} {to}");
    }
    let v = site
        .get(
            "/api/v1/domains/example.com/summary?from=2020-01-01&to=2024-12-31",
            Some(admin),
        )
        .await
        .json();
    assert_eq!(v["reports"], 2);
    assert_eq!(v["successful_sessions"], 23);
    assert_eq!(v["failed_sessions"], 2);

    // Daily counts from the index.
    let v = site
        .get(
            "/api/v1/domains/company-y.example/daily?from=2016-03-31&to=2016-04-01",
            Some(admin),
        )
        .await
        .json();
    check_response(&doc, "/api/v1/domains/{domain}/daily", 200, &v);
    assert_eq!(
        v["days"],
        json!([
            {"date": "2016-03-31", "successful": 0, "failed": 0},
            {"date": "2016-04-01", "successful": 5326, "failed": 303}
        ])
    );
    assert_eq!(
        v["failures"]["by_result_type"],
        json!([
            {"key": "starttls-not-supported", "failed": 200},
            {"key": "certificate-expired", "failed": 100},
            {"key": "validation-failure", "failed": 3}
        ])
    );
    assert_eq!(
        v["failures"]["by_mx_host"][0],
        json!({"key": "mx2.mail.company-y.example", "failed": 200})
    );
    assert_eq!(
        v["failures"]["by_organization"],
        json!([{"key": "Company-X", "failed": 303}])
    );
    assert_eq!(v["failures"]["by_sending_ip"].as_array().unwrap().len(), 3);
    let v = site
        .get("/api/v1/domains/company-y.example/daily", Some(admin))
        .await
        .json();
    check_response(&doc, "/api/v1/domains/{domain}/daily", 200, &v);
    assert_eq!(v["days"].as_array().unwrap().len(), 30);

    // Reports of a domain, and one report.
    let v = site
        .get("/api/v1/domains/example.com/reports", Some(admin))
        .await
        .json();
    check_response(&doc, "/api/v1/domains/{domain}/reports", 200, &v);
    let items = v["reports"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|r| r["organization"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Mail.ru", "Google Inc."]
    );
    assert_eq!(items[1]["successful"], 23);
    assert_eq!(items[1]["start"], "2020-01-01T00:00:00Z");
    let p = site
        .get("/api/v1/domains/example.com/reports?limit=1", Some(admin))
        .await
        .json();
    assert_eq!(p["reports"].as_array().unwrap().len(), 1);
    assert_eq!(p["next_cursor"], "1");
    let p = site
        .get(
            "/api/v1/domains/example.com/reports?limit=1&cursor=1",
            Some(admin),
        )
        .await
        .json();
    assert_eq!(p["reports"][0]["organization"], "Google Inc.");
    assert_eq!(p["next_cursor"], Value::Null);
    let id = items[1]["id"].as_str().unwrap();
    let v = site
        .get(&format!("/api/v1/reports/{id}"), Some(admin))
        .await
        .json();
    check_response(&doc, "/api/v1/reports/{id}", 200, &v);
    assert_eq!(v["report"]["organization-name"], "Google Inc.");
    assert_eq!(v["report"]["report-id"], "2020-01-01T00:00:00Z_example.com");
    assert_eq!(v["dkim"]["status"], "none");
    assert_eq!(v["receipts"], 1);

    // Readiness: from the stored reports; the MX condition not checked.
    let v = site
        .get("/api/v1/domains/example.com/readiness", Some(admin))
        .await
        .json();
    check_response(&doc, "/api/v1/domains/{domain}/readiness", 200, &v);
    let states: Vec<(&str, &str)> = v["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("mode", "ok"),
            ("days-in-testing", "ok"),
            ("tlsrpt-reports", "failed"),
            ("mx-certificates", "not-checked")
        ]
    );
    assert_eq!(v["ready"], false);
    let v = site
        .get("/api/v1/domains/random.net/readiness", Some(admin))
        .await
        .json();
    check_response(&doc, "/api/v1/domains/{domain}/readiness", 200, &v);
    assert_eq!(v["conditions"][2]["state"], "ok");
    assert_eq!(v["ready"], true);

    // Alerts raised on ingest.
    let v = site.get("/api/v1/alerts", Some(admin)).await.json();
    check_response(&doc, "/api/v1/alerts", 200, &v);
    let keys: BTreeSet<(String, String)> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["domain"].as_str().unwrap().to_owned(),
                a["result_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        keys.contains(&("company-y.example".into(), "certificate-expired".into())),
        "{keys:?}"
    );
    assert!(
        keys.contains(&("example.com".into(), "certificate-host-mismatch".into())),
        "{keys:?}"
    );
    let n = v["alerts"].as_array().unwrap().len();
    let v = site.get("/api/v1/alerts?limit=1", Some(admin)).await.json();
    check_response(&doc, "/api/v1/alerts", 200, &v);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["next_cursor"],
        if n > 1 { json!("1") } else { Value::Null }
    );

    // Errors, as JSON.
    for (path, status, route) in [
        (
            "/api/v1/domains/example.com/summary?from=2020-13-01",
            400,
            "/api/v1/domains/{domain}/summary",
        ),
        (
            "/api/v1/domains/example.com/daily?from=2020-02-01&to=2020-01-01",
            400,
            "/api/v1/domains/{domain}/daily",
        ),
        (
            "/api/v1/domains/example.com/daily?from=2020-01-01&to=2022-01-01",
            400,
            "/api/v1/domains/{domain}/daily",
        ),
        ("/api/v1/domains?limit=0", 400, "/api/v1/domains"),
        ("/api/v1/alerts?cursor=x", 400, "/api/v1/alerts"),
        (
            "/api/v1/domains/not-hosted.example",
            404,
            "/api/v1/domains/{domain}",
        ),
        ("/api/v1/reports/bm8.bm8", 404, "/api/v1/reports/{id}"),
        ("/api/v1/nothing", 404, "/api/v1/domains"),
    ] {
        let a = site.get(path, Some(admin)).await;
        assert_eq!(a.status.as_u16(), status, "{path}: {}", a.text());
        assert_eq!(
            a.header("content-type").as_deref(),
            Some("application/json")
        );
        check_response(&doc, route, status, &a.json());
    }
    let a = site.get("/api/v1/domains", None).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"mtasts\"")
    );
    check_response(&doc, "/api/v1/domains", 401, &a.json());
    let a = site
        .request(Req {
            bearer: Some(admin),
            ..Req::post("/api/v1/domains", "application/json", "{}")
        })
        .await;
    assert_eq!(a.status, 405);
    check_response(&doc, "/api/v1/domains", 405, &a.json());

    site.server.shutdown().await;
}

#[tokio::test]
async fn report_endpoint_stores_counts_duplicates_and_refuses() {
    let site = Site::start("tlsrpt", |c| c.web.max_report_bytes = 64 * 1024).await;
    let body = report_json("sender.example", "r-1", "example.com", 4);
    let post = |ct: &'static str, b: Vec<u8>| Req::post("/v1/tlsrpt", ct, b);

    let a = site
        .request(post("application/tlsrpt+json", body.clone().into_bytes()))
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(a.text(), "stored: sender.example r-1\n");
    let a = site
        .request(post("application/tlsrpt+json", body.clone().into_bytes()))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.text().starts_with("duplicate: "), "{}", a.text());
    // gzip, with a parameter on the type.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(report_json("sender.example", "r-2", "example.com", 1).as_bytes())
        .unwrap();
    let a = site
        .request(post(
            "application/tlsrpt+gzip; charset=binary",
            gz.finish().unwrap(),
        ))
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    let stored = site
        .store
        .inbox()
        .stored_report("sender.example", "r-2")
        .unwrap()
        .unwrap();
    assert_eq!(stored.source, "https:127.0.0.1");
    // Unreadable: 400 with the reason.
    let a = site
        .request(post(
            "application/tlsrpt+json",
            b"{\"organization-name\":".to_vec(),
        ))
        .await;
    assert_eq!(a.status, 400);
    assert!(a.text().len() > 10, "{}", a.text());
    // Over the limit: 413 (declared length, and a chunked body).
    let big = vec![b' '; 100 * 1024];
    let a = site.request(post("application/tlsrpt+json", big)).await;
    assert_eq!(a.status, 413, "{}", a.text());
    // Another type: 415.
    let a = site
        .request(post("text/plain", body.clone().into_bytes()))
        .await;
    assert_eq!(a.status, 415);
    let a = site
        .request(post("application/json", body.clone().into_bytes()))
        .await;
    assert_eq!(a.status, 415);
    // GET: 405.
    let a = site.request(Req::get("/v1/tlsrpt")).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow").as_deref(), Some("POST"));
    // Not on the policy names.
    let a = site
        .request_on(
            "mta-sts.example.com",
            post(
                "application/tlsrpt+json",
                report_json("o", "r-3", "example.com", 1).into_bytes(),
            ),
        )
        .await;
    assert_eq!(a.status, 404);
    assert!(
        site.store
            .inbox()
            .stored_report("o", "r-3")
            .unwrap()
            .is_none()
    );
    // The policy names keep serving the policy.
    let a = site
        .request_on("mta-sts.example.com", Req::get("/.well-known/mta-sts.txt"))
        .await;
    assert_eq!(a.status, 200);

    // The stored report is in the API at once.
    let v = site
        .get(
            "/api/v1/domains/example.com/daily?from=2026-11-30&to=2026-11-30",
            Some(&site.tokens.alice),
        )
        .await
        .json();
    assert_eq!(
        v["days"],
        json!([{"date": "2026-11-30", "successful": 20, "failed": 5}])
    );

    site.server.shutdown().await;
}

#[tokio::test]
async fn healthz_and_per_domain_metrics() {
    let site = Site::start("health", |_| {}).await;
    let a = site.request(Req::get("/healthz")).await;
    assert_eq!((a.status.as_u16(), a.text().as_str()), (200, "ok\n"));
    let a = site.request(Req::post("/healthz", "text/plain", "x")).await;
    assert_eq!(a.status, 405);
    assert!(site.server.web().healthy(true));
    assert!(!site.server.web().healthy(false));

    // Computed on the refresh interval (200 ms here), not per scrape.
    let mut text = String::new();
    for _ in 0..50 {
        text = site.scrape().await;
        if text.contains("mtasts_tlsrpt_sessions_total{domain=\"company-y.example\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for line in [
        "mtasts_tlsrpt_sessions_total{domain=\"company-y.example\",result=\"successful\"} 5326\n",
        "mtasts_tlsrpt_sessions_total{domain=\"company-y.example\",result=\"failed\"} 303\n",
        "mtasts_tlsrpt_failures_total{domain=\"company-y.example\",result_type=\"starttls-not-supported\"} 200\n",
        "mtasts_tlsrpt_failures_total{domain=\"example.com\",result_type=\"certificate-host-mismatch\"} 1\n",
        "mtasts_tlsrpt_sessions_total{domain=\"random.net\",result=\"successful\"} 4\n",
        "# TYPE mtasts_tlsrpt_failures_total counter\n",
        "mtasts_serve_domains 3\n",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    // Unknown paths on the web names: 404; on the metrics listener the
    // families stay where they were.
    let a = site.request(Req::get("/nothing")).await;
    assert_eq!(a.status, 404);
    let _ = Method::GET;
    site.server.shutdown().await;
}
