//! Member names of the schema: one enum per object of the schema, declared
//! together with its table of names by `members!`, and the perfect hash
//! that recognises a name in one multiply, one table load and a few word
//! compares.
//!
//! A name is stored as the bytes `name":` (the name, its closing quote and
//! the colon every serializer writes right after it) packed into
//! little-endian words with a mask each. The table of an object maps the
//! first eight of those bytes, multiplied by a constant and shifted to four
//! bits, to the first name with that first word; names sharing their first
//! eight bytes (`receiving-ip`, `receiving-mx-helo`) are chained. The
//! multiplier is searched for at compile time, within [`MAX_TRIES`]
//! candidates: a name set with no collision-free multiplier among them
//! fails the build with a message, it cannot make the compiler loop.

/// Candidate multipliers the perfect-hash search tries before giving up.
/// For at most eight distinct first words in sixteen slots about one odd
/// multiplier in eight works, so running out means something is wrong
/// (more names than slots, or a pathological set).
pub(super) const MAX_TRIES: usize = 4096;

/// Slots of a table: the hash is the top [`SLOT_BITS`] bits of
/// `first_word * multiplier`.
const SLOTS: usize = 16;
const SLOT_BITS: u32 = 4;

/// Most members an object of the schema may declare (the chain links are
/// `u8` indices into an eight-entry array, and the members seen so far are
/// a `u32` bit set).
pub(super) const MAX_MEMBERS: usize = 8;

/// The first multiplier tried (the golden-ratio constant, odd) and the
/// step between candidates (even, so every candidate stays odd).
const FIRST_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
const MULTIPLIER_STEP: u64 = 0x2545_F491_4F6C_DD1E;

/// One member name of an object of the schema, with the member it stands
/// for (`M` is that object's member enum).
pub(super) struct Name<M> {
    /// The name as written in a report.
    pub(super) name: &'static str,
    /// The member it stands for.
    pub(super) member: M,
    /// The member's bit in the set of members seen so far of one object
    /// (`1 << discriminant`).
    pub(super) bit: u32,
    /// `name":`, zero-padded.
    words: [u64; 4],
    /// Which bytes of each word belong to `name":`.
    masks: [u64; 4],
    /// Bytes of `name":`.
    pub(super) len: usize,
}

/// `name":` packed into words with their masks, and its length.
const fn pack(name: &'static str) -> ([u64; 4], [u64; 4], usize) {
    let b = name.as_bytes();
    let len = b.len() + 2;
    assert!(
        len >= 8 && len <= 32,
        "member names of the schema have 6 to 30 bytes"
    );
    let mut bytes = [0u8; 32];
    let mut i = 0;
    while i < b.len() {
        bytes[i] = b[i];
        i += 1;
    }
    bytes[b.len()] = b'"';
    bytes[b.len() + 1] = b':';
    let mut words = [0u64; 4];
    let mut masks = [0u64; 4];
    let mut w = 0;
    while w < 4 {
        let mut j = 0;
        while j < 8 {
            words[w] |= (bytes[w * 8 + j] as u64) << (8 * j);
            if w * 8 + j < len {
                masks[w] |= 0xff << (8 * j);
            }
            j += 1;
        }
        w += 1;
    }
    (words, masks, len)
}

impl<M: Copy> Name<M> {
    /// `member`, whose discriminant is `index`, written `name`.
    pub(super) const fn new(member: M, index: usize, name: &'static str) -> Self {
        assert!(index < MAX_MEMBERS, "at most eight members per object");
        let (words, masks, len) = pack(name);
        Self {
            name,
            member,
            bit: 1 << index,
            words,
            masks,
            len,
        }
    }

    /// Whether `b[at..]` starts with `name":`, given the first eight bytes
    /// there as `first`.
    #[inline(always)]
    fn is_at(&self, b: &[u8], at: usize, first: u64) -> bool {
        if first != self.words[0] {
            return false;
        }
        match b.get(at..at + 32) {
            Some(window) => {
                let word = |k: usize| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&window[k * 8..k * 8 + 8]);
                    u64::from_le_bytes(w)
                };
                ((word(1) ^ self.words[1]) & self.masks[1])
                    | ((word(2) ^ self.words[2]) & self.masks[2])
                    | ((word(3) ^ self.words[3]) & self.masks[3])
                    == 0
            }
            // Near the end of the input: compare what is left.
            None => b.get(at..at + self.len).is_some_and(|s| {
                s.iter()
                    .enumerate()
                    .all(|(i, &c)| c == (self.words[i / 8] >> (8 * (i % 8))) as u8)
            }),
        }
    }
}

/// The slot of the first word `first` under multiplier `mul`.
#[inline(always)]
const fn slot(first: u64, mul: u64) -> usize {
    (first.wrapping_mul(mul) >> (64 - SLOT_BITS)) as usize
}

/// Whether `mul` sends distinct words of `words` to distinct slots (equal
/// words share a slot and are chained).
const fn collision_free(words: &[u64], mul: u64) -> bool {
    let mut owner = [0u64; SLOTS];
    let mut used = [false; SLOTS];
    let mut i = 0;
    while i < words.len() {
        let h = slot(words[i], mul);
        if used[h] && owner[h] != words[i] {
            return false;
        }
        used[h] = true;
        owner[h] = words[i];
        i += 1;
    }
    true
}

/// The perfect-hash search: the first of at most `tries` odd multipliers
/// that sends distinct first words to distinct slots, or `None`. Bounded,
/// so a colliding name set is a build error, never an endless loop.
pub(super) const fn find_multiplier(words: &[u64], tries: usize) -> Option<u64> {
    let mut mul = FIRST_MULTIPLIER;
    let mut t = 0;
    while t < tries {
        if collision_free(words, mul) {
            return Some(mul);
        }
        mul = mul.wrapping_add(MULTIPLIER_STEP);
        t += 1;
    }
    None
}

/// The member names of one object of the schema, with a perfect hash of
/// their first eight bytes: recognising a member costs one multiply, one
/// table load and the word compares of one candidate (names that share
/// their first eight bytes, like `receiving-ip` and `receiving-mx-helo`,
/// are tried in turn).
pub(super) struct Names<M: 'static> {
    names: &'static [Name<M>],
    /// Slot (top four bits of `first * mul`) to the first index in `names`
    /// with that first word, or `u8::MAX`.
    slots: [u8; SLOTS],
    /// The next index with the same first word, or `u8::MAX`.
    next: [u8; MAX_MEMBERS],
    mul: u64,
}

impl<M: Copy> Names<M> {
    /// The table for `names`, or why there is none: more than
    /// [`MAX_MEMBERS`] names, a name declared twice, a bit shared by two
    /// members, or no collision-free multiplier within [`MAX_TRIES`].
    pub(super) const fn try_new(names: &'static [Name<M>]) -> Result<Self, &'static str> {
        if names.len() > MAX_MEMBERS {
            return Err("more than eight members in one object");
        }
        let mut words = [0u64; MAX_MEMBERS];
        let mut next = [u8::MAX; MAX_MEMBERS];
        let mut i = 0;
        while i < names.len() {
            words[i] = names[i].words[0];
            let mut j = i + 1;
            while j < names.len() {
                if names[j].bit & names[i].bit != 0 {
                    return Err("two members with one bit (not declared by `members!`?)");
                }
                if same(names[i].name.as_bytes(), names[j].name.as_bytes()) {
                    return Err("a member name declared twice");
                }
                if next[i] == u8::MAX && names[j].words[0] == names[i].words[0] {
                    next[i] = j as u8;
                }
                j += 1;
            }
            i += 1;
        }
        let Some(mul) = find_multiplier(words.split_at(names.len()).0, MAX_TRIES) else {
            return Err(
                "no collision-free perfect hash for these member names within MAX_TRIES \
                 multipliers (tlsrpt-core/src/parse/names.rs): raise MAX_TRIES or SLOT_BITS",
            );
        };
        let mut slots = [u8::MAX; SLOTS];
        // Backwards, so each slot ends up with the first of its chain.
        let mut i = names.len();
        while i > 0 {
            i -= 1;
            slots[slot(names[i].words[0], mul)] = i as u8;
        }
        Ok(Self {
            names,
            slots,
            next,
            mul,
        })
    }

    /// The name written at `b[at..]` (after the opening quote) followed by
    /// `":`, if it is one of the table's.
    #[inline(always)]
    pub(super) fn find_at(&self, b: &[u8], at: usize) -> Option<&'static Name<M>> {
        let chunk = b.get(at..at + 8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let first = u64::from_le_bytes(word);
        let names = self.names;
        let mut i = usize::from(self.slots[slot(first, self.mul)]);
        loop {
            let name = names.get(i)?;
            if name.is_at(b, at, first) {
                return Some(name);
            }
            i = usize::from(*self.next.get(i)?);
        }
    }

    /// The member named `name` (any spelling the slow path decoded).
    pub(super) fn get(&self, name: &str) -> Option<&'static Name<M>> {
        self.names.iter().find(|n| n.name == name)
    }
}

/// Byte-string equality in a `const fn`.
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares the members of objects of the schema: per object an enum (one
/// variant per member, in the order given) and, as its associated constant
/// `NAMES`, the [`Names`] table built from the same lines, so the enum and
/// the table cannot disagree. Each table is checked at compile time (a
/// `const _` item evaluates it even before any code uses it): too many
/// members, a name given twice or a hash collision fail the build.
///
/// ```text
/// members! {
///     /// Doc comment of the enum.
///     EnumName {
///         Variant = "json-member-name",
///     }
/// }
/// ```
macro_rules! members {
    ($(
        $(#[$meta:meta])*
        $object:ident {
            $( $variant:ident = $name:literal, )+
        }
    )+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        // Variants mirror the JSON names, which share prefixes.
        #[allow(clippy::enum_variant_names)]
        pub(super) enum $object {
            $( #[doc = concat!("`", $name, "`")] $variant, )+
        }

        impl $object {
            /// The names of the members, with their perfect hash.
            pub(super) const NAMES: &'static Names<Self> = &match Names::try_new(&[
                $( Name::new(Self::$variant, Self::$variant as usize, $name), )+
            ]) {
                Ok(table) => table,
                // A constant: this panic is a build error naming the
                // problem, never a run-time panic.
                Err(problem) => panic!("{}", problem),
            };

            /// The member's name as written in a report.
            pub(super) const fn name(self) -> &'static str {
                match self {
                    $( Self::$variant => $name, )+
                }
            }
        }

        const _: &Names<$object> = $object::NAMES;
    )+};
}

members! {
    /// Members of the report (RFC 8460 section 4.3).
    TopMember {
        OrganizationName = "organization-name",
        DateRange = "date-range",
        ContactInfo = "contact-info",
        ReportId = "report-id",
        Policies = "policies",
    }
    /// Members of `date-range`.
    DateRangeMember {
        StartDatetime = "start-datetime",
        EndDatetime = "end-datetime",
    }
    /// Members of an element of `policies`.
    PolicyResultMember {
        Policy = "policy",
        Summary = "summary",
        FailureDetails = "failure-details",
    }
    /// Members of `policy`.
    PolicyMember {
        PolicyType = "policy-type",
        PolicyString = "policy-string",
        PolicyDomain = "policy-domain",
        MxHost = "mx-host",
    }
    /// Members of `summary`.
    SummaryMember {
        TotalSuccessfulSessionCount = "total-successful-session-count",
        TotalFailureSessionCount = "total-failure-session-count",
    }
    /// Members of an element of `failure-details`.
    FailureDetailMember {
        ResultType = "result-type",
        SendingMtaIp = "sending-mta-ip",
        ReceivingMxHostname = "receiving-mx-hostname",
        ReceivingMxHelo = "receiving-mx-helo",
        ReceivingIp = "receiving-ip",
        FailedSessionCount = "failed-session-count",
        AdditionalInformation = "additional-information",
        FailureReasonCode = "failure-reason-code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name of `table` is found at the start of `name":` followed by
    /// anything, as its own member (the one `name_of` names so), and
    /// nothing else is.
    fn check<M: Copy + PartialEq + std::fmt::Debug>(
        table: &Names<M>,
        name_of: fn(M) -> &'static str,
    ) {
        let mut bits = 0;
        for n in table.names {
            assert_eq!(name_of(n.member), n.name);
            assert_eq!(bits & n.bit, 0, "{}", n.name);
            bits |= n.bit;
            assert_eq!(table.get(n.name).map(|f| f.member), Some(n.member));
            for tail in ["", " 1}", "{\"x\": [1, 2, 3]}, \"padding\": true"] {
                let found = |text: &str| table.find_at(text.as_bytes(), 0).map(|f| f.member);
                let text = format!("{}\":{tail}", n.name);
                assert_eq!(found(&text), Some(n.member), "{text}");
                let spaced = format!("{}\" :{tail}", n.name);
                assert_eq!(found(&spaced), None, "{spaced}");
                let longer = format!("{}x\":{tail}", n.name);
                assert_eq!(found(&longer), None, "{longer}");
                let shorter = format!("{}\":{tail}", &n.name[..n.name.len() - 1]);
                assert_eq!(found(&shorter), None, "{shorter}");
            }
        }
        for other in ["policy-typ\":", "receiving-mx\":", "xxxxxxxxxxxxxxxx", ""] {
            assert!(table.find_at(other.as_bytes(), 0).is_none(), "{other}");
            assert!(table.get(other).is_none(), "{other}");
        }
    }

    #[test]
    fn every_member_name_is_recognised_and_nothing_else() {
        check(TopMember::NAMES, TopMember::name);
        check(DateRangeMember::NAMES, DateRangeMember::name);
        check(PolicyResultMember::NAMES, PolicyResultMember::name);
        check(PolicyMember::NAMES, PolicyMember::name);
        check(SummaryMember::NAMES, SummaryMember::name);
        check(FailureDetailMember::NAMES, FailureDetailMember::name);
    }

    #[test]
    fn enums_and_tables_agree() {
        assert_eq!(PolicyMember::MxHost.name(), "mx-host");
        assert_eq!(PolicyMember::NAMES.names.len(), 4);
        assert_eq!(
            FailureDetailMember::NAMES
                .names
                .iter()
                .map(|n| (n.member, n.bit))
                .collect::<Vec<_>>(),
            [
                (FailureDetailMember::ResultType, 1),
                (FailureDetailMember::SendingMtaIp, 2),
                (FailureDetailMember::ReceivingMxHostname, 4),
                (FailureDetailMember::ReceivingMxHelo, 8),
                (FailureDetailMember::ReceivingIp, 16),
                (FailureDetailMember::FailedSessionCount, 32),
                (FailureDetailMember::AdditionalInformation, 64),
                (FailureDetailMember::FailureReasonCode, 128),
            ]
        );
        // `receiving-ip` and `receiving-mx-helo` share their first eight
        // bytes with `receiving-mx-hostname`: one chain, in table order.
        let t = FailureDetailMember::NAMES;
        assert_eq!(&t.next[2..5], [3, 4, u8::MAX]);
    }

    /// Seventeen distinct first words cannot go to sixteen slots: the
    /// search gives up after its budget instead of looping.
    #[test]
    fn colliding_names_make_the_search_give_up() {
        let names: Vec<String> = (0..17).map(|i| format!("{i:02}-member")).collect();
        let words: Vec<u64> = names
            .iter()
            .map(|n| pack(Box::leak(n.clone().into_boxed_str())).0[0])
            .collect();
        assert_eq!(find_multiplier(&words, MAX_TRIES), None);
        assert_eq!(find_multiplier(&words, 0), None);
        // Whatever the search returns places distinct words in distinct
        // slots.
        for n in [2, 8, 16] {
            if let Some(mul) = find_multiplier(&words[..n], MAX_TRIES) {
                let mut slots: Vec<usize> = words[..n].iter().map(|&w| slot(w, mul)).collect();
                slots.sort_unstable();
                slots.dedup();
                assert_eq!(slots.len(), n);
            }
        }
        // Equal first words share a slot: no collision.
        assert_eq!(
            find_multiplier(&[words[0], words[0]], 1),
            Some(FIRST_MULTIPLIER)
        );
        // Eight distinct ones are placed quickly.
        assert!(find_multiplier(&words[..8], MAX_TRIES).is_some());
    }

    #[test]
    fn bad_tables_are_refused_with_a_reason() {
        #[derive(Debug, Clone, Copy, PartialEq)]
        struct M;
        let nine: &'static [Name<M>] = Box::leak(
            (0..9)
                .map(|i| Name::new(M, i % 8, Box::leak(format!("member-{i}").into_boxed_str())))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let problem = |names: &'static [Name<M>]| Names::try_new(names).err();
        assert_eq!(problem(nine), Some("more than eight members in one object"));
        let twice: &'static [Name<M>] = Box::leak(Box::new([
            Name::new(M, 0, "mx-host"),
            Name::new(M, 1, "mx-host"),
        ]));
        assert_eq!(problem(twice), Some("a member name declared twice"));
        let one_bit: &'static [Name<M>] = Box::leak(Box::new([
            Name::new(M, 0, "mx-host"),
            Name::new(M, 0, "policy"),
        ]));
        assert_eq!(
            problem(one_bit),
            Some("two members with one bit (not declared by `members!`?)")
        );
        let fine: &'static [Name<M>] = Box::leak(Box::new([
            Name::new(M, 0, "mx-host"),
            Name::new(M, 1, "policy"),
        ]));
        assert_eq!(problem(fine), None);
    }
}
