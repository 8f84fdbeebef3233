//! JSON Pointers into a report, and the reader's current path.
//!
//! The reader keeps the pointer of the value it is reading as a
//! [`JsonPointer`], whose fields only this module can change: through
//! [`Parser::with_segment`] (a segment for the duration of a closure:
//! array elements) and [`Parser::with_members`] (an object's member loop,
//! with [`Parser::name_member`] and [`Parser::outside_member`]). Each
//! restores the depth it found, so no caller sets a depth by hand.

use std::fmt;

use super::{Parser, R};

/// Room for path segments: the schema nests five levels deep
/// (`/policies/i/failure-details/j/member`).
pub(super) const MAX_PATH: usize = 6;

/// One segment of a pointer: a member name of the schema or an array
/// index.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Seg {
    Key(&'static str),
    Index(usize),
}

/// A JSON Pointer (RFC 6901) into a report, such as
/// `/policies/0/failure-details/3/receiving-ip`, held as its segments (the
/// schema's member names and array indices) and written out on demand:
/// warnings carry one each, and making them must cost next to nothing.
///
/// ```
/// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"report-id":"r1","policies":[{"policy":{"policy-type":"sts","policy-string":[],"policy-domain":"example.com","mx-host":"mx.example.com"},"summary":{"total-successful-session-count":5,"total-failure-session-count":0},"failure-details":[]}]}"#;
/// let parsed = tlsrpt_core::Report::parse_lenient(json).unwrap();
/// let paths: Vec<String> = parsed.warnings.iter().map(|w| w.path.to_string()).collect();
/// assert_eq!(paths, ["/policies/0/policy/mx-host", ""]);
/// assert_eq!(parsed.warnings[0].path, "/policies/0/policy/mx-host");
/// assert!(parsed.warnings[1].path.is_root()); // contact-info is missing
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct JsonPointer {
    segs: [Seg; MAX_PATH],
    len: usize,
}

impl JsonPointer {
    /// The document root (the empty pointer).
    pub const ROOT: Self = Self {
        segs: [Seg::Index(0); MAX_PATH],
        len: 0,
    };

    /// True for the document root.
    pub fn is_root(&self) -> bool {
        self.len == 0
    }

    fn segments(&self) -> &[Seg] {
        &self.segs[..self.len.min(MAX_PATH)]
    }
}

impl Default for JsonPointer {
    fn default() -> Self {
        Self::ROOT
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for seg in self.segments() {
            match seg {
                Seg::Key(k) => write!(f, "/{k}")?,
                Seg::Index(i) => write!(f, "/{i}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl PartialEq<str> for JsonPointer {
    fn eq(&self, other: &str) -> bool {
        // Segment by segment, without writing the pointer out.
        let mut rest = other;
        for seg in self.segments() {
            let Some(r) = rest.strip_prefix('/') else {
                return false;
            };
            let end = r.find('/').unwrap_or(r.len());
            let (text, tail) = r.split_at(end);
            let same = match seg {
                Seg::Key(k) => text == *k,
                Seg::Index(i) => {
                    text.parse::<usize>().ok() == Some(*i)
                        && !text.starts_with('+')
                        && (text == "0" || !text.starts_with('0'))
                }
            };
            if !same {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }
}

impl PartialEq<&str> for JsonPointer {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl serde::Serialize for JsonPointer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The path segment of an object's members while its member loop runs
/// (see [`Parser::with_members`]).
#[derive(Clone, Copy)]
pub(super) struct MemberSlot {
    /// Depth of the object's own path.
    depth: usize,
}

/// The only code that changes the reader's path. Each function restores
/// the depth it found when its closure returns, on errors too (an error
/// has taken its copy of the path by then).
impl Parser<'_> {
    /// Run `f` with `seg` appended to the current path (the pointer that
    /// errors and warnings inside `f` carry), and take it off again
    /// afterwards: array elements and one-off segments.
    ///
    /// The schema nests at most five levels ([`MAX_PATH`] has room for
    /// six); a deeper path would keep its first six segments.
    #[inline(always)]
    pub(super) fn with_segment<T>(&mut self, seg: Seg, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        let len = self.path.len;
        if let Some(slot) = self.path.segs.get_mut(len) {
            *slot = seg;
        }
        self.path.len = len + 1;
        let result = f(self);
        self.path.len = len;
        result
    }

    /// Run the member loop `f` of the object at the current path. For the
    /// whole loop the path has one more segment, the member's, which `f`
    /// names per member with [`Self::name_member`] before reading its
    /// value: one store per member and no depth change, which measurably
    /// matters (see the module documentation of `parse`). Whatever in the
    /// loop concerns the object itself (member names, unknown members, the
    /// object's own syntax errors) runs in [`Self::outside_member`], where
    /// the path names the object.
    #[inline(always)]
    pub(super) fn with_members<T>(
        &mut self,
        f: impl FnOnce(&mut Self, MemberSlot) -> R<T>,
    ) -> R<T> {
        let depth = self.path.len;
        self.path.len = depth + 1;
        let result = f(self, MemberSlot { depth });
        self.path.len = depth;
        result
    }

    /// Name the member whose value is read next (inside `with_members`).
    #[inline(always)]
    pub(super) fn name_member(&mut self, slot: MemberSlot, seg: Seg) {
        if let Some(s) = self.path.segs.get_mut(slot.depth) {
            *s = seg;
        }
    }

    /// Run `f` with the path of the object, without its member segment
    /// (inside `with_members`).
    #[inline(always)]
    pub(super) fn outside_member<T>(
        &mut self,
        slot: MemberSlot,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        self.path.len = slot.depth;
        let result = f(self);
        self.path.len = slot.depth + 1;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::{JsonPointer, Seg};
    use crate::parse::Parser;

    #[test]
    fn json_pointer_text_and_equality() {
        let mut p = JsonPointer::ROOT;
        assert!(p.is_root());
        assert_eq!(p.to_string(), "");
        assert_eq!(p, "");
        for (i, seg) in [
            Seg::Key("policies"),
            Seg::Index(10),
            Seg::Key("failure-details"),
            Seg::Index(0),
            Seg::Key("receiving-ip"),
        ]
        .into_iter()
        .enumerate()
        {
            p.segs[i] = seg;
        }
        p.len = 5;
        let text = "/policies/10/failure-details/0/receiving-ip";
        assert_eq!(p.to_string(), text);
        assert_eq!(p, text);
        assert_eq!(format!("{p:?}"), format!("{text:?}"));
        assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{text}\""));
        for other in [
            "/policies/010/failure-details/0/receiving-ip",
            "/policies/+10/failure-details/0/receiving-ip",
            "/policies/10/failure-details/0/receiving-ip/",
            "/policies/10/failure-details/0",
            "policies/10/failure-details/0/receiving-ip",
            "/policies/10/failure-details/00/receiving-ip",
            "/policies/1/failure-details/0/receiving-ip",
        ] {
            assert_ne!(p, other);
        }
    }

    #[test]
    fn with_segment_restores_the_path_on_success_and_on_error() {
        let mut p = Parser::new(b"", false);
        let inner = p.with_segment(Seg::Key("policies"), |p| {
            p.with_segment(Seg::Index(3), |p| Ok(p.path.to_string()))
        });
        assert_eq!(inner.unwrap(), "/policies/3");
        assert!(p.path.is_root());
        let failed: super::R<()> = p.with_segment(Seg::Key("policies"), |p| {
            p.with_segment(Seg::Index(0), |p| {
                Err(p.err(crate::ReportErrorKind::Syntax("x")))
            })
        });
        assert_eq!(failed.unwrap_err().path, "/policies/0");
        assert!(p.path.is_root());
        // Deeper than the room: the first six segments are kept, and the
        // depth still comes back.
        let deep = p.with_segment(Seg::Index(1), |p| {
            p.with_segment(Seg::Index(2), |p| {
                p.with_segment(Seg::Index(3), |p| {
                    p.with_segment(Seg::Index(4), |p| {
                        p.with_segment(Seg::Index(5), |p| {
                            p.with_segment(Seg::Index(6), |p| {
                                p.with_segment(Seg::Index(7), |p| Ok(p.path.to_string()))
                            })
                        })
                    })
                })
            })
        });
        assert_eq!(deep.unwrap(), "/1/2/3/4/5/6");
        assert!(p.path.is_root());
    }

    #[test]
    fn member_loops_name_the_member_only_while_its_value_is_read() {
        let mut p = Parser::new(b"", false);
        let seen = p.with_segment(Seg::Key("policies"), |p| {
            p.with_members(|p, slot| {
                let mut seen = Vec::new();
                for name in ["policy", "summary"] {
                    seen.push(p.outside_member(slot, |p| p.path.to_string()));
                    p.name_member(slot, Seg::Key(name));
                    seen.push(p.path.to_string());
                    p.with_segment(Seg::Index(7), |p| {
                        seen.push(p.path.to_string());
                        Ok(())
                    })?;
                }
                Ok(seen)
            })
        });
        assert_eq!(
            seen.unwrap(),
            [
                "/policies",
                "/policies/policy",
                "/policies/policy/7",
                "/policies",
                "/policies/summary",
                "/policies/summary/7",
            ]
        );
        assert!(p.path.is_root());
        let failed: super::R<()> = p.with_members(|p, slot| {
            p.name_member(slot, Seg::Key("mx-host"));
            Err(p.err(crate::ReportErrorKind::Syntax("x")))
        });
        assert_eq!(failed.unwrap_err().path, "/mx-host");
        let failed: super::R<()> = p.with_members(|p, slot| {
            p.name_member(slot, Seg::Key("mx-host"));
            Err(p.outside_member(slot, |p| p.err(crate::ReportErrorKind::Syntax("x"))))
        });
        assert_eq!(failed.unwrap_err().path, "");
        assert!(p.path.is_root());
    }
}
