//! The page frame (head, navigation, style sheet) and small pieces the
//! pages share. Markup is written with [`maud`], which escapes every
//! interpolated value; the only unescaped inserts are the style sheet,
//! the copy script (constants) and the charts of [`super::svg`] (which
//! escape their own text).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::web::Account;

/// The one style sheet (inline: the pages load nothing else). Greyscale
/// printing stays readable: failures are dark and hatched, the status
/// lights carry a letter too.
pub const STYLE: &str = r#"
:root{--fg:#1b1f23;--muted:#5a6570;--line:#d6dbe0;--bg:#fff;--panel:#f6f8fa;--accent:#0b57d0;--ok:#7fc18a;--bad:#c62828;--warn:#e0a100}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header.top{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center;padding:.6rem 1rem;background:#14213d;color:#fff}
header.top a{color:#fff;text-decoration:none}
header.top .brand{font-weight:700;margin-right:auto}
header.top nav{display:flex;gap:1rem;flex-wrap:wrap;align-items:center}
header.top .muted{color:#c9d3df}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.2rem 0 .8rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.6rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
a{color:var(--accent)}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.6rem;margin:.6rem 0}
.card{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.5rem .7rem}
.card .v{font-size:1.35rem;font-weight:700;display:block}
.card .k{color:var(--muted);font-size:.85rem}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
@media (max-width:760px){.grid2{grid-template-columns:1fr}}
.tablewrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
th{background:var(--panel);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.light{display:inline-block;min-width:1.6em;text-align:center;border-radius:1em;padding:0 .35em;font-weight:700;font-size:.8rem;border:1px solid #0003}
.light.green{background:#2e7d32;color:#fff}.light.amber{background:#f9a825;color:#000}.light.red{background:#b71c1c;color:#fff}.light.grey{background:#9e9e9e;color:#000}
.tag{display:inline-block;padding:0 .4em;border-radius:4px;background:var(--panel);border:1px solid var(--line);font-size:.85rem}
.tag.enforce{background:#e3f2e5}.tag.testing{background:#fff4d6}.tag.none{background:#eee}
svg.chart{width:100%;height:auto;display:block;background:#fff}
svg.chart .grid{stroke:#e3e6ea;stroke-width:1}
svg.chart .base{stroke:#444;stroke-width:1}
svg.chart .axis,svg.chart .label,svg.chart .num{font:11px system-ui,sans-serif;fill:#333}
svg.chart .ok{fill:var(--ok);stroke:#2e7d32;stroke-width:.5}
svg.chart .fail{stroke:#5d0d0d;stroke-width:.5}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.6rem;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem}
.copy{position:relative}
.copy button{position:absolute;top:.3rem;right:.3rem;font-size:.8rem}
ul.conds{list-style:none;padding:0}
ul.conds li{padding:.4rem .5rem;border-left:4px solid var(--line);margin:.3rem 0;background:var(--panel)}
ul.conds li.ok{border-color:#2e7d32}ul.conds li.fail{border-color:#b71c1c}ul.conds li.unchecked{border-color:#9e9e9e}
.fix{white-space:pre-line}
.pager{display:flex;gap:.6rem;align-items:center;margin:.6rem 0;flex-wrap:wrap}
.windows a,.windows strong{margin-right:.6rem}
form.login{max-width:340px;display:grid;gap:.6rem}
form.login input{font:inherit;padding:.4rem}
.error{color:#b71c1c;font-weight:600}
form.inline{display:inline}
@media print{header.top nav,.copy button,.pager,.windows,form,.noprint{display:none}body{font-size:11pt}main{max-width:none;padding:0}a{color:inherit;text-decoration:none}.card,pre,ul.conds li{background:#fff}h2{break-after:avoid}svg.chart,table,.card{break-inside:avoid}}
"#;

/// Progressive enhancement: copy buttons (the text stays selectable
/// without JavaScript; the buttons are added by the script only).
pub const COPY_SCRIPT: &str = r#"
document.querySelectorAll('[data-copy]').forEach(function(el){var b=document.createElement('button');b.type='button';b.textContent='Copy';b.addEventListener('click',function(){navigator.clipboard&&navigator.clipboard.writeText(el.textContent).then(function(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy'},1500)})});el.parentNode.appendChild(b)});
"#;

/// A complete document: `title`, the navigation for `account` (none on
/// the login page), `body`.
#[must_use]
pub fn page(title: &str, account: Option<&Account>, csrf_token: &str, body: &Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " — mtasts" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    a.brand href="/" { "mtasts" }
                    @if let Some(a) = account {
                        nav {
                            a href="/" { "Domains" }
                            a href="/alerts" { "Alerts" }
                            span.muted { (a.user) @if a.admin { " (admin)" } }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf_token);
                                button type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main { (body) }
                script { (PreEscaped(COPY_SCRIPT)) }
            }
        }
    }
    .into_string()
}

/// A status light with its letter (readable in greyscale) and meaning.
#[must_use]
pub fn light(status: super::data::Status) -> Markup {
    let letter = match status {
        super::data::Status::Red => "R",
        super::data::Status::Amber => "A",
        super::data::Status::Grey => "–",
        super::data::Status::Green => "G",
    };
    html! {
        span class={ "light " (status.as_str()) } title=(status.meaning()) aria-label=(status.meaning()) data-status=(status.as_str()) { (letter) }
    }
}

/// A mode tag.
#[must_use]
pub fn mode_tag(mode: mta_sts_core::Mode) -> Markup {
    let m = mode.as_str();
    html! { span class={ "tag " (m) } data-mode=(m) { (m) } }
}

/// A block of text with a copy button (added by the script).
#[must_use]
pub fn copyable(id: &str, text: &str) -> Markup {
    html! { div.copy { pre id=(id) data-copy { (text) } } }
}

/// RFC 3339 of a Unix time.
#[must_use]
pub fn time(t: i64) -> String {
    mta_sts_core::time::Timestamp::from_unix(t).to_string()
}
