//! The dashboard in a real browser: headless Chromium (Debian's
//! `chromium` driven by `chromedriver`, see `test_support::browser`)
//! against a real `serve::Server` over HTTPS, its site filled from the
//! report corpus (the corpus files, and for the last 30 days copies of a
//! corpus report moved to those days, since the pages show windows
//! ending today). The test logs in through the login form, reads the
//! numbers the overview and a domain page show (element text and
//! attributes) and compares them with what `mtasts report summarize
//! --domain D --since A --until B` computes from the same files
//! (tlsrpt-core's `Aggregator` with the same `Filter`), checks the
//! domain page at phone width (390 px: no horizontal scroll), and writes
//! screenshots under `target/screenshots/`.
//!
//! With `MTASTS_WRITE_DOCS_SCREENSHOT=1` the desktop domain page is also
//! written to `docs/dashboard.png` (the README's picture).
//!
//! Without a browser the test prints why and passes, unless
//! `MTASTS_REQUIRE_BROWSER=1` (CI), where it fails.

mod web_common;

use std::path::PathBuf;
use std::sync::Arc;

use mtasts_site::inbox::{Inbox, InboxOptions, Source};
use mtasts_site::web::pages::data;
use serde_json::Value;
use test_support::browser::{Browser, BrowserOptions};
use tlsrpt_core::Aggregator;
use tlsrpt_core::input::{self, ReadOptions};
use tlsrpt_core::summary::{Filter, Summary};
use web_common::{FILES, Site, WEB_HOST, now, root};

const DOMAIN: &str = "company-y.example";

/// Copies of the corpus report of company-y.example on each of the last
/// 30 days (new report ids, the organizations of the corpus, sessions
/// and failures varying by day).
fn recent_reports(today: i64) -> Vec<(PathBuf, Vec<u8>)> {
    let template: Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/reports/mail-auth/rpt01.json")).unwrap(),
    )
    .unwrap();
    let orgs = [
        "Company-X",
        "Google Inc.",
        "Mail.ru",
        "Microsoft Corporation",
    ];
    let mut out = Vec::new();
    for k in 0..30i64 {
        let day = data::day_string(today - k);
        let mut r = template.clone();
        r["organization-name"] = orgs[usize::try_from(k).unwrap() % orgs.len()].into();
        r["report-id"] = format!("recent-{k}").into();
        r["date-range"]["start-datetime"] = format!("{day}T00:00:00Z").into();
        r["date-range"]["end-datetime"] = format!("{day}T23:59:59Z").into();
        let p = &mut r["policies"][0];
        let ok = 3000 + (k * 733) % 2500;
        p["summary"]["total-successful-session-count"] = ok.into();
        let details = p["failure-details"].as_array().unwrap().clone();
        // Failures on some days only, more of them on some.
        let kept: Vec<Value> = details
            .into_iter()
            .enumerate()
            .filter(|(i, _)| (k + i64::try_from(*i).unwrap()) % 5 == 0 || k % 9 == 2)
            .map(|(_, d)| d)
            .collect();
        let failed: u64 = kept
            .iter()
            .map(|d| d["failed-session-count"].as_u64().unwrap())
            .sum();
        p["summary"]["total-failure-session-count"] = failed.into();
        p["failure-details"] = Value::Array(kept);
        out.push((
            PathBuf::from(format!("recent-{k}.json")),
            serde_json::to_vec(&r).unwrap(),
        ));
    }
    out
}

fn summarize(files: &[(PathBuf, Vec<u8>)], filter: &Filter) -> Summary {
    let mut agg = Aggregator::new().filter(filter.clone());
    for (f, bytes) in files {
        let r = input::read_report(bytes, &ReadOptions::default()).unwrap();
        agg.add(&r.value.report, &f.display().to_string());
    }
    agg.into_summary()
}

fn num(s: &str) -> u64 {
    s.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{s:?} is no number: {e}"))
}

#[test]
fn dashboard_in_chromium_shows_the_numbers_of_report_summarize() {
    let required = std::env::var("MTASTS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let browser = match Browser::start(&BrowserOptions {
        hosts: vec![WEB_HOST.to_owned()],
        ..BrowserOptions::default()
    }) {
        Ok(b) => b,
        Err(e) if !required => {
            eprintln!("SKIPPED: no browser: {e} (set MTASTS_REQUIRE_BROWSER=1 to fail instead)");
            return;
        }
        Err(e) => panic!("MTASTS_REQUIRE_BROWSER=1 and no browser: {e}"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let site = rt.block_on(Site::start("browser", |_| {}));
    let today = data::day_of(now());
    let recent = recent_reports(today);
    rt.block_on(async {
        let inbox = Inbox::new(
            Arc::clone(&site.store),
            InboxOptions {
                retain_days: None,
                alerter: Some(Arc::new(mtasts_site::alerts::Alerter::store_only(
                    Arc::clone(&site.store),
                ))),
                ..InboxOptions::default()
            },
        );
        for (f, bytes) in &recent {
            inbox.ingest(bytes, &Source::File(f.clone())).await.unwrap();
        }
    });
    let mut files: Vec<(PathBuf, Vec<u8>)> = FILES
        .iter()
        .map(|f| (PathBuf::from(f), std::fs::read(root().join(f)).unwrap()))
        .collect();
    files.extend(recent);
    let base = format!("https://{WEB_HOST}:{}", site.server.https_addr().port());
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // Log in through the form.
    browser.goto(&format!("{base}/login")).unwrap();
    let token = browser.find("#token").unwrap();
    browser.send_keys(&token, &site.tokens.admin).unwrap();
    browser
        .click(&browser.find("form.login button[type=submit]").unwrap())
        .unwrap();
    // The form posts and redirects; wait for the overview.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while browser.url().unwrap() != format!("{base}/") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        browser.url().unwrap(),
        format!("{base}/"),
        "logged in, at the overview: {}",
        browser.text(&browser.find("main").unwrap()).unwrap()
    );

    // The overview: the last 7 days of each domain.
    let (since7, until7) = data::window(now(), 7);
    let rows = browser.find_all("#overview tbody tr").unwrap();
    assert_eq!(rows.len(), web_common::DOMAINS.len());
    for row in rows {
        let d = browser.attr(&row, "data-domain").unwrap().unwrap();
        let s = summarize(
            &files,
            &Filter::new().since(since7).until(until7).policy_domain(&d),
        );
        let c = s.by_policy_domain.get(&d).copied().unwrap_or_default();
        let cells = browser
            .find_all(&format!("#overview tr[data-domain=\"{d}\"] td"))
            .unwrap();
        let rate = browser.text(&cells[3]).unwrap();
        let sessions = browser.text(&cells[4]).unwrap();
        assert_eq!(
            rate,
            data::percent(data::per_mille(c.successful_sessions, c.failed_sessions)),
            "{d}"
        );
        assert_eq!(
            sessions,
            format!(
                "{} / {}",
                c.failed_sessions,
                c.successful_sessions + c.failed_sessions
            ),
            "{d}"
        );
    }
    browser
        .full_page_screenshot(&shots.join("overview.png"), 1280, 2000)
        .unwrap();

    // The domain page, 30 days.
    browser.set_window_size(1280, 900).unwrap();
    browser
        .goto(&format!("{base}/domains/{DOMAIN}?days=30"))
        .unwrap();
    let (since, until) = data::window(now(), 30);
    let s = summarize(
        &files,
        &Filter::new()
            .since(since)
            .until(until)
            .policy_domain(DOMAIN),
    );
    let c = s.by_policy_domain[DOMAIN];
    assert!(c.failed_sessions > 0 && c.successful_sessions > 0);
    let text_of = |sel: &str| browser.text(&browser.find(sel).unwrap()).unwrap();
    assert_eq!(num(&text_of("#total-successful")), c.successful_sessions);
    assert_eq!(num(&text_of("#total-failed")), c.failed_sessions);
    assert_eq!(
        text_of("#failure-rate"),
        data::percent(data::per_mille(c.successful_sessions, c.failed_sessions))
    );
    // The chart's bars, day by day.
    let bars = browser.find_all("#day-bars g.day").unwrap();
    assert_eq!(bars.len(), 30);
    for g in bars {
        let day = browser.attr(&g, "data-day").unwrap().unwrap();
        let ok = num(&browser.attr(&g, "data-successful").unwrap().unwrap());
        let failed = num(&browser.attr(&g, "data-failed").unwrap().unwrap());
        let want = s.by_day.get(&day).copied().unwrap_or_default();
        assert_eq!(
            (ok, failed),
            (want.successful_sessions, want.failed_sessions),
            "{day}"
        );
    }
    // Failures by result type and by MX host (the tables' rows).
    for (rt_name, n) in &s.by_result_type {
        let row = browser
            .find(&format!("#by-result-type tr[data-key=\"{rt_name}\"]"))
            .unwrap();
        assert_eq!(
            num(&browser.attr(&row, "data-failed").unwrap().unwrap()),
            *n
        );
    }
    for (host, st) in &s.by_mx_host {
        let row = browser
            .find(&format!("#by-mx-host tr[data-key=\"{host}\"]"))
            .unwrap();
        assert_eq!(
            num(&browser.attr(&row, "data-failed").unwrap().unwrap()),
            st.failed_sessions
        );
    }
    // Readiness is shown with the unchecked live probe.
    assert!(text_of("#readiness").contains("not checked here"));
    // The inline style and script ran under the page's CSP: the copy
    // buttons exist and the stylesheet applied (cards are grid items).
    let copy_buttons = browser.find_all(".copy button").unwrap().len();
    assert!(
        copy_buttons >= 4,
        "copy buttons added by the inline script: {copy_buttons}"
    );
    let display = browser
        .execute(
            "return getComputedStyle(document.querySelector('.cards')).display;",
            &[],
        )
        .unwrap();
    assert_eq!(display, "grid");
    browser
        .full_page_screenshot(&shots.join("domain.png"), 1280, 4000)
        .unwrap();
    if std::env::var("MTASTS_WRITE_DOCS_SCREENSHOT").is_ok_and(|v| v == "1") {
        browser.set_window_size(1100, 900).unwrap();
        browser
            .goto(&format!("{base}/domains/{DOMAIN}?days=30"))
            .unwrap();
        browser
            .full_page_screenshot(&root().join("docs/dashboard.png"), 1100, 1800)
            .unwrap();
    }

    // Phone width: nothing wider than the screen.
    browser.set_window_size(1280, 900).unwrap();
    browser.emulate_phone(Some((390, 844))).unwrap();
    for (name, path) in [
        ("overview", "/".to_owned()),
        ("domain", format!("/domains/{DOMAIN}?days=90")),
        ("alerts", "/alerts".to_owned()),
    ] {
        browser.goto(&format!("{base}{path}")).unwrap();
        let v = browser
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                &[],
            )
            .unwrap();
        let (scroll, inner) = (v[0].as_u64().unwrap(), v[1].as_u64().unwrap());
        assert_eq!(inner, 390, "{path}: phone viewport");
        assert!(scroll <= inner, "{path}: {scroll} px wide at {inner} px");
        browser
            .screenshot(&shots.join(format!("phone-{name}.png")))
            .unwrap();
    }
    browser.emulate_phone(None).unwrap();
    eprintln!("screenshots in {}", shots.display());
    drop(browser);
    rt.block_on(site.server.shutdown());
}
