//! Who sees what on `mtasts serve`'s web side: every data route (API
//! and pages) without a token or session (401 / redirect to /login), with
//! another account's (404), the owner's and an admin's (200); the web
//! login (cookie attributes), CSRF on every form (403), the login rate
//! limit (429); token replacement and account removal take effect at
//! once; the account tables on PostgreSQL.

mod web_common;

use std::sync::Arc;

use hyper::Method;
use mtasts_site::store::SiteStore;
use mtasts_site::web::auth;
use mtasts_site::web::users::{Session, User};
use web_common::{Req, Site, login};

/// The API routes for a domain of bob's and a report of it.
fn api_paths(domain: &str, report: &str) -> Vec<String> {
    vec![
        format!("/api/v1/domains/{domain}"),
        format!("/api/v1/domains/{domain}/summary?from=2025-01-01&to=2025-12-31"),
        format!("/api/v1/domains/{domain}/daily"),
        format!("/api/v1/domains/{domain}/reports"),
        format!("/api/v1/domains/{domain}/readiness"),
        format!("/api/v1/reports/{report}"),
    ]
}

fn page_paths(domain: &str, report: &str) -> Vec<String> {
    vec![
        format!("/domains/{domain}"),
        format!("/domains/{domain}?days=30"),
        format!("/reports/{report}"),
    ]
}

/// The id of random.net's stored report.
fn bobs_report() -> String {
    mtasts_site::web::report_url_id("Microsoft Corporation", "133925885310113267+random.net")
}

fn csrf_of(store: &Arc<dyn SiteStore>, cookie: &str) -> String {
    let id = cookie.strip_prefix("mtasts_session=").unwrap();
    store
        .users()
        .session(&auth::sha256_hex(id), web_common::now())
        .unwrap()
        .unwrap()
        .csrf
}

#[tokio::test]
async fn api_routes_answer_only_the_owner_and_admins() {
    let site = Site::start("access-api", |_| {}).await;
    let t = &site.tokens;
    let report = bobs_report();
    for path in api_paths("random.net", &report) {
        let a = site.get(&path, None).await;
        assert_eq!(a.status, 401, "{path} without a token");
        let a = site.get(&path, Some("not-a-token")).await;
        assert_eq!(a.status, 401, "{path} with garbage");
        let wrong = format!("{}x", &t.bob[..t.bob.len() - 1]);
        let a = site.get(&path, Some(&wrong)).await;
        assert_eq!(a.status, 401, "{path} with a wrong secret");
        let a = site.get(&path, Some(&t.alice)).await;
        assert_eq!(a.status, 404, "{path} with another account's token");
        assert_eq!(a.json()["error"], "not found");
        for (who, tok) in [("owner", &t.bob), ("admin", &t.admin)] {
            let a = site.get(&path, Some(tok)).await;
            assert_eq!(a.status, 200, "{path} as {who}: {}", a.text());
        }
    }
    // A domain that does not exist answers as one of another account.
    let a = site
        .get("/api/v1/domains/nowhere.example", Some(&t.alice))
        .await;
    assert_eq!(a.status, 404);
    // Lists hold only what the account sees.
    let names = |v: serde_json::Value| -> Vec<String> {
        v["domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["domain"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(site.get("/api/v1/domains", Some(&t.alice)).await.json()),
        ["company-y.example", "example.com"]
    );
    assert_eq!(
        names(site.get("/api/v1/domains", Some(&t.bob)).await.json()),
        ["random.net"]
    );
    assert_eq!(
        names(site.get("/api/v1/domains", Some(&t.admin)).await.json()).len(),
        3
    );
    let alerts = site.get("/api/v1/alerts", Some(&t.alice)).await.json();
    let domains: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["domain"].as_str().unwrap())
        .collect();
    assert!(!domains.is_empty());
    assert!(
        domains
            .iter()
            .all(|d| *d == "company-y.example" || *d == "example.com"),
        "{domains:?}"
    );
    let bob_alerts = site.get("/api/v1/alerts", Some(&t.bob)).await.json();
    assert_eq!(bob_alerts["alerts"], serde_json::json!([]));

    // A report covering two accounts' domains: each sees its policies only.
    let two = r#"{"organization-name":"Both Co","date-range":{"start-datetime":"2026-11-30T00:00:00Z","end-datetime":"2026-11-30T23:59:59Z"},"contact-info":"x@both.example","report-id":"two-1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx.example.com"]},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}},{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.random.net","max_age: 86400"],"policy-domain":"random.net","mx-host":["mx.random.net"]},"summary":{"total-successful-session-count":2,"total-failure-session-count":0}}]}"#;
    let a = site
        .request(Req::post("/v1/tlsrpt", "application/tlsrpt+json", two))
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    let id = mtasts_site::web::report_url_id("Both Co", "two-1");
    let path = format!("/api/v1/reports/{id}");
    let domains_of = |v: serde_json::Value| -> Vec<String> {
        v["report"]["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["policy"]["policy-domain"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        domains_of(site.get(&path, Some(&t.alice)).await.json()),
        ["example.com"]
    );
    assert_eq!(
        domains_of(site.get(&path, Some(&t.bob)).await.json()),
        ["random.net"]
    );
    assert_eq!(
        domains_of(site.get(&path, Some(&t.admin)).await.json()),
        ["example.com", "random.net"]
    );

    // A new token invalidates the old one at once (even when cached).
    let n = auth::new_token().unwrap();
    assert!(site.store.users().set_token("bob", &n.id, &n.hash).unwrap());
    assert_eq!(site.get("/api/v1/domains", Some(&t.bob)).await.status, 401);
    assert_eq!(
        site.get("/api/v1/domains", Some(&n.token)).await.status,
        200
    );
    assert!(site.store.users().remove_user("bob").unwrap());
    assert_eq!(
        site.get("/api/v1/domains", Some(&n.token)).await.status,
        401
    );
    site.server.shutdown().await;
}

#[tokio::test]
async fn pages_need_a_session_and_show_only_the_accounts_domains() {
    let site = Site::start("access-pages", |_| {}).await;
    let report = bobs_report();
    let mut all = page_paths("random.net", &report);
    all.extend([
        "/".to_owned(),
        "/alerts".to_owned(),
        "/?sort=mode&order=desc".to_owned(),
    ]);
    for path in &all {
        let a = site.request(Req::get(path)).await;
        assert_eq!(a.status, 303, "{path} without a session");
        assert_eq!(a.header("location").as_deref(), Some("/login"), "{path}");
        let a = site
            .request(Req {
                cookie: Some("mtasts_session=forged"),
                ..Req::get(path)
            })
            .await;
        assert_eq!(a.status, 303, "{path} with a forged session");
    }

    let (alice, line) = login(&site, &site.tokens.alice).await;
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(line.split("; ").any(|a| a == attr), "{attr} not in {line}");
    }
    let (bob, _) = login(&site, &site.tokens.bob).await;
    let (admin, _) = login(&site, &site.tokens.admin).await;
    for path in page_paths("random.net", &report) {
        let a = site
            .request(Req {
                cookie: Some(&alice),
                ..Req::get(&path)
            })
            .await;
        assert_eq!(a.status, 404, "{path} as another account");
        for (who, c) in [("owner", &bob), ("admin", &admin)] {
            let a = site
                .request(Req {
                    cookie: Some(c),
                    ..Req::get(&path)
                })
                .await;
            assert_eq!(a.status, 200, "{path} as {who}: {}", a.text());
            assert_eq!(
                a.header("content-type").as_deref(),
                Some("text/html; charset=utf-8")
            );
            assert!(a.header("content-security-policy").is_some());
        }
    }
    for path in ["/", "/alerts"] {
        let a = site
            .request(Req {
                cookie: Some(&alice),
                ..Req::get(path)
            })
            .await;
        assert_eq!(a.status, 200, "{path}: {}", a.text());
        assert!(
            !a.text().contains("random.net"),
            "{path} shows bob's domain to alice"
        );
    }
    let a = site
        .request(Req {
            cookie: Some(&alice),
            ..Req::get("/domains/nowhere.example")
        })
        .await;
    assert_eq!(a.status, 404);
    // A POST to a page: 405.
    let a = site
        .request(Req {
            cookie: Some(&alice),
            ..Req::post("/", "application/x-www-form-urlencoded", "")
        })
        .await;
    assert_eq!(a.status, 405);
    // Sessions do not open the API (bearer tokens only).
    let a = site
        .request(Req {
            cookie: Some(&alice),
            ..Req::get("/api/v1/domains")
        })
        .await;
    assert_eq!(a.status, 401);
    site.server.shutdown().await;
}

#[tokio::test]
async fn forms_need_their_csrf_token_and_logout_ends_the_session() {
    let site = Site::start("csrf", |_| {}).await;
    let form = "application/x-www-form-urlencoded";
    // Login without or with a wrong CSRF token: 403, even with a good token.
    let tok = site.tokens.alice.clone();
    for (cookie, body) in [
        (None, format!("token={tok}")),
        (Some("mtasts_login=abc"), format!("token={tok}")),
        (Some("mtasts_login=abc"), format!("csrf=abd&token={tok}")),
        (None, format!("csrf=abc&token={tok}")),
    ] {
        let a = site
            .request(Req {
                cookie,
                ..Req::post("/login", form, body.clone())
            })
            .await;
        assert_eq!(a.status, 403, "{cookie:?} {body}");
        assert!(
            a.set_cookies()
                .iter()
                .all(|c| !c.starts_with("mtasts_session="))
        );
    }
    let (cookie, _) = login(&site, &tok).await;
    let csrf = csrf_of(&site.store, &cookie);
    for body in [
        String::new(),
        "csrf=wrong".to_owned(),
        format!("csrf={csrf}x"),
    ] {
        let a = site
            .request(Req {
                cookie: Some(&cookie),
                ..Req::post("/logout", form, body.clone())
            })
            .await;
        assert_eq!(a.status, 403, "logout with {body:?}");
    }
    // Still signed in.
    let a = site
        .request(Req {
            cookie: Some(&cookie),
            ..Req::get("/")
        })
        .await;
    assert_eq!(a.status, 200);
    assert!(
        a.text().contains(&csrf),
        "the page's forms carry the session's CSRF token"
    );
    let a = site
        .request(Req {
            cookie: Some(&cookie),
            ..Req::post("/logout", form, format!("csrf={csrf}"))
        })
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(a.header("location").as_deref(), Some("/login"));
    let a = site
        .request(Req {
            cookie: Some(&cookie),
            ..Req::get("/")
        })
        .await;
    assert_eq!(a.status, 303, "the session ended");
    // GET /logout is not a form post.
    let a = site.request(Req::get("/logout")).await;
    assert_eq!(a.status, 405);
    // A form body over the limit: 413.
    let a = site
        .request(Req {
            cookie: Some("mtasts_login=abc"),
            ..Req::post("/login", form, vec![b'a'; 10_000])
        })
        .await;
    assert_eq!(a.status, 413);
    site.server.shutdown().await;
}

#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let site = Site::start("ratelimit", |_| {}).await;
    let form = "application/x-www-form-urlencoded";
    let post = |token: &str| Req {
        cookie: Some("mtasts_login=c5rf"),
        ..Req::post("/login", form, format!("csrf=c5rf&token={token}"))
    };
    let bad = format!("{}x", &site.tokens.alice[..site.tokens.alice.len() - 1]);
    for i in 0..auth::LOGIN_FAILURES {
        let a = site.request(post(&bad)).await;
        assert_eq!(a.status, 401, "failure {i}");
        assert!(a.text().contains("not valid"), "{}", a.text());
    }
    let a = site.request(post(&bad)).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("retry-after").as_deref(), Some("60"));
    // Even the right token waits.
    let a = site.request(post(&site.tokens.alice)).await;
    assert_eq!(a.status, 429);
    // The API is not the login form: bearer tokens still work.
    let a = site.get("/api/v1/domains", Some(&site.tokens.alice)).await;
    assert_eq!(a.status, 200);
    let _ = Method::GET;
    site.server.shutdown().await;
}

/// The same account operations on both backends.
fn user_store_behaviour(store: &dyn SiteStore) {
    let users = store.users();
    let t = auth::new_token().unwrap();
    let u = User {
        name: "carol".into(),
        admin: false,
        domains: vec!["example.com".into(), "example.org".into()],
        token_id: t.id.clone(),
        token_hash: t.hash.clone(),
        created_at: 1_700_000_000,
    };
    users.add_user(&u).unwrap();
    assert!(matches!(
        users.add_user(&u),
        Err(mtasts_site::store::StoreError::Exists(_))
    ));
    assert_eq!(users.user("carol").unwrap().as_ref(), Some(&u));
    assert_eq!(users.user_by_token(&t.id).unwrap().as_ref(), Some(&u));
    assert_eq!(users.users().unwrap(), std::slice::from_ref(&u));
    let (_, secret) = auth::split_token(&t.token).unwrap();
    assert!(auth::verify_secret(
        secret,
        &users.user("carol").unwrap().unwrap().token_hash
    ));

    let s = Session {
        id_hash: auth::sha256_hex("sid"),
        user: "carol".into(),
        csrf: "c".into(),
        expires_at: 2_000,
    };
    users.put_session(&s, 1_000).unwrap();
    assert_eq!(users.session(&s.id_hash, 1_999).unwrap().as_ref(), Some(&s));
    assert_eq!(users.session(&s.id_hash, 2_000).unwrap(), None, "expired");
    users.delete_session(&s.id_hash).unwrap();
    assert_eq!(users.session(&s.id_hash, 1_000).unwrap(), None);

    // A new token ends the sessions and the old token.
    users.put_session(&s, 1_000).unwrap();
    let n = auth::new_token().unwrap();
    assert!(users.set_token("carol", &n.id, &n.hash).unwrap());
    assert_eq!(users.user_by_token(&t.id).unwrap(), None);
    assert_eq!(users.user_by_token(&n.id).unwrap().unwrap().name, "carol");
    assert_eq!(users.session(&s.id_hash, 1_000).unwrap(), None);
    assert!(!users.set_token("nobody", &n.id, &n.hash).unwrap());
    // Expired sessions are dropped when a new one is stored.
    users.put_session(&s, 1_000).unwrap();
    let s2 = Session {
        id_hash: auth::sha256_hex("sid2"),
        expires_at: 9_000,
        ..s.clone()
    };
    users.put_session(&s2, 3_000).unwrap();
    assert_eq!(users.session(&s.id_hash, 0).unwrap(), None);
    assert!(users.remove_user("carol").unwrap());
    assert!(!users.remove_user("carol").unwrap());
    assert_eq!(users.session(&s2.id_hash, 3_000).unwrap(), None);
    assert_eq!(users.users().unwrap(), []);
}

#[test]
fn user_store_on_sqlite() {
    let dir = web_common::TempDir::new("mtasts-web-users-sqlite");
    let store = mtasts_site::sqlite::SqliteStore::open(&dir.0).unwrap();
    user_store_behaviour(&store);
}

#[test]
fn user_store_on_postgresql() {
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let store = mtasts_site::pg::PgSiteStore::connect(&db.url("web-users")).unwrap();
    user_store_behaviour(&store);
}
