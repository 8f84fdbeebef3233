//! Charts as inline SVG, drawn on the server by a small writer of our own.
//!
//! Why our own: the plotting crates (plotters and its SVG backend,
//! charming, poloto) either pull a font and raster stack, render through
//! JavaScript, or cannot add the `<title>`s, `aria-*` labels, patterns and
//! `data-*` attributes the pages and their tests need. The two charts the
//! dashboard draws (stacked day bars, horizontal bars) are a few dozen
//! lines each.
//!
//! Every chart:
//! - scales with its `viewBox` (no fixed width: CSS sizes it);
//! - is `role="img"` with an `aria-label` and a `<title>`, and every bar
//!   has its own `<title>` (a tooltip, read by screen readers);
//! - prints distinguishably in greyscale: successful sessions are light
//!   and plain, failures dark and hatched (a pattern, not only a colour);
//! - escapes every text it writes (names come from untrusted reports).

use std::fmt::Write as _;

/// Escape `s` for SVG/HTML text and attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// One day of the sessions chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayBar {
    /// The label under the bar (`MM-DD`) and in its title (`YYYY-MM-DD`).
    pub date: String,
    /// Successful sessions.
    pub successful: u64,
    /// Failed sessions.
    pub failed: u64,
}

/// The largest of `values`, at least 1.
fn max_of(values: impl Iterator<Item = u64>) -> u64 {
    values.max().unwrap_or(0).max(1)
}

/// A "nice" axis maximum ≥ `max`: 1, 2, 4, 6 or 8 times a power of ten
/// (its quarters, the grid lines, are round too).
#[must_use]
pub fn nice_max(max: u64) -> u64 {
    let mut p: u64 = 1;
    loop {
        for m in [1, 2, 4, 6, 8] {
            let v = p.saturating_mul(m);
            if v >= max || v == u64::MAX {
                return v;
            }
        }
        if p > u64::MAX / 10 {
            return u64::MAX;
        }
        p *= 10;
    }
}

/// Short count: 1234 → `1.2k`, 5_300_000 → `5.3M`.
#[must_use]
pub fn short(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    let s = if n >= 1_000_000_000 {
        format!("{:.1}G", f / 1e9)
    } else if n >= 1_000_000 {
        format!("{:.1}M", f / 1e6)
    } else if n >= 10_000 {
        format!("{:.0}k", f / 1e3)
    } else if n >= 1_000 {
        format!("{:.1}k", f / 1e3)
    } else {
        return n.to_string();
    };
    s.replace(".0", "")
}

/// `part / whole` scaled to `len` (0 when `whole` is 0).
#[allow(clippy::cast_precision_loss)]
fn scale(part: u64, whole: u64, len: f64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64) * len
    }
}

/// The `<defs>` with the failure hatching (dark red lines on red: dark in
/// greyscale, and hatched).
fn defs(out: &mut String, id: &str) {
    let _ = write!(
        out,
        "<defs><pattern id=\"{id}-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#c62828\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#5d0d0d\" stroke-width=\"3\"/></pattern></defs>"
    );
}

/// Sessions per UTC day as stacked bars: successful (light, below) and
/// failed (dark, hatched, on top), with a count axis and day labels.
/// `id` is the element id (also prefixes the pattern id).
#[must_use]
pub fn day_bars(id: &str, title: &str, days: &[DayBar]) -> String {
    let (w, h) = (720.0_f64, 260.0_f64);
    let (left, right, top, bottom) = (52.0, 10.0, 14.0, 40.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max = nice_max(max_of(
        days.iter().map(|d| d.successful.saturating_add(d.failed)),
    ));
    let mut out = String::with_capacity(256 + days.len() * 400);
    let id_e = escape(id);
    let _ = write!(
        out,
        "<svg id=\"{id_e}\" class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = escape(title)
    );
    defs(&mut out, &id_e);
    // Grid lines and the count axis: 0, 1/2, max.
    for i in 0..=4u64 {
        // Only whole-number grid lines (for maxima under 4).
        let scaled = u128::from(max) * u128::from(i);
        if scaled % 4 != 0 {
            continue;
        }
        let v = u64::try_from(scaled / 4).unwrap_or(max);
        let y = top + plot_h - scale(v, max, plot_h);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>",
            short(v),
            x2 = w - right,
            lx = left - 6.0,
            ty = y + 4.0
        );
    }
    let n = days.len().max(1);
    #[allow(clippy::cast_precision_loss)]
    let slot = plot_w / n as f64;
    let bar = (slot * 0.75).max(1.0);
    let label_every = (n / 10).max(1);
    for (i, d) in days.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let total = d.successful.saturating_add(d.failed);
        let hs = scale(d.successful, max, plot_h);
        let hf = scale(d.failed, max, plot_h);
        let base = top + plot_h;
        let date = escape(&d.date);
        let _ = write!(
            out,
            "<g class=\"day\" data-day=\"{date}\" data-successful=\"{}\" data-failed=\"{}\"><title>{date}: {} successful, {} failed of {} sessions</title>",
            d.successful, d.failed, d.successful, d.failed, total
        );
        if d.successful > 0 {
            let _ = write!(
                out,
                "<rect class=\"ok\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hs:.1}\"/>",
                base - hs
            );
        }
        if d.failed > 0 {
            // At least 2 units high: a failure must never be invisible.
            let hf = hf.max(2.0);
            let _ = write!(
                out,
                "<rect class=\"fail\" fill=\"url(#{id_e}-hatch)\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hf:.1}\"/>",
                base - hs - hf
            );
        }
        out.push_str("</g>");
        if i % label_every == 0 {
            let label = d.date.get(5..).unwrap_or(&d.date);
            let _ = write!(
                out,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                base + 16.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        out,
        "<line class=\"base\" x1=\"{left}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\"/>",
        y = top + plot_h,
        x2 = w - right
    );
    // Legend.
    let ly = h - 10.0;
    let _ = write!(
        out,
        "<rect class=\"ok\" x=\"{left}\" y=\"{:.1}\" width=\"12\" height=\"10\"/><text class=\"axis\" x=\"{:.1}\" y=\"{ly}\">successful</text><rect class=\"fail\" fill=\"url(#{id_e}-hatch)\" x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"10\"/><text class=\"axis\" x=\"{:.1}\" y=\"{ly}\">failed</text></svg>",
        ly - 9.0,
        left + 16.0,
        left + 100.0,
        ly - 9.0,
        left + 116.0,
    );
    out
}

/// Horizontal bars of failed sessions per key (result type, MX host, ...),
/// in the order given. `id` is the element id.
#[must_use]
pub fn hbars(id: &str, title: &str, rows: &[(String, u64)]) -> String {
    let row_h = 22.0_f64;
    let (w, label_w, num_w) = (440.0_f64, 170.0_f64, 56.0_f64);
    #[allow(clippy::cast_precision_loss)]
    let h = (rows.len().max(1) as f64) * row_h + 8.0;
    let max = max_of(rows.iter().map(|r| r.1));
    let bar_w = w - label_w - num_w;
    let id_e = escape(id);
    let mut out = String::with_capacity(256 + rows.len() * 300);
    let _ = write!(
        out,
        "<svg id=\"{id_e}\" class=\"chart hbars\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = escape(title)
    );
    defs(&mut out, &id_e);
    if rows.is_empty() {
        out.push_str("<text class=\"axis\" x=\"4\" y=\"18\">no failed sessions</text>");
    }
    for (i, (key, n)) in rows.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = 4.0 + row_h * i as f64;
        let len = scale(*n, max, bar_w - 8.0).max(2.0);
        let k = escape(key);
        // Long names are cut in the label; the title has them whole.
        let shown: String = if key.chars().count() > 26 {
            let mut s: String = key.chars().take(25).collect();
            s.push('…');
            escape(&s)
        } else {
            k.clone()
        };
        let _ = write!(
            out,
            "<g class=\"row\" data-key=\"{k}\" data-failed=\"{n}\"><title>{k}: {n} failed sessions</title><text class=\"label\" x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{shown}</text><rect class=\"fail\" fill=\"url(#{id_e}-hatch)\" x=\"{label_w}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"{bh:.1}\"/><text class=\"num\" x=\"{nx:.1}\" y=\"{ty:.1}\">{n}</text></g>",
            lx = label_w - 6.0,
            ty = y + 14.0,
            bh = row_h - 6.0,
            nx = label_w + len + 4.0,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_maxima() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(1), 1);
        assert_eq!(nice_max(3), 4);
        assert_eq!(nice_max(7), 8);
        assert_eq!(nice_max(9), 10);
        assert_eq!(nice_max(5629), 6_000);
        assert_eq!(nice_max(u64::MAX), u64::MAX);
    }

    #[test]
    fn short_counts() {
        assert_eq!(short(999), "999");
        assert_eq!(short(1234), "1.2k");
        assert_eq!(short(3000), "3k");
        assert_eq!(short(4500), "4.5k");
        assert_eq!(short(56_000), "56k");
        assert_eq!(short(5_300_000), "5.3M");
    }

    #[test]
    fn hostile_names_are_escaped() {
        let s = hbars("x", "t<", &[("<script>alert(1)</script>\"".to_owned(), 3)]);
        assert!(!s.contains("<script>"));
        assert!(s.contains("&lt;script&gt;"));
        let d = day_bars(
            "d",
            "sessions",
            &[DayBar {
                date: "2016-04-01".into(),
                successful: 10,
                failed: 2,
            }],
        );
        assert!(d.contains("data-failed=\"2\""));
        assert!(d.contains("class=\"fail\""));
    }
}
