//! Aggregation: how one event changes an hour's running tally. Each aggregation is
//! commutative and associative over events (LATEST orders by timestamp, then key), so the
//! hour's quantity does not depend on arrival order nor on how events were batched.

use std::collections::BTreeMap;

use super::model::{Aggregation, Allocation, MAX_QUANTITY, Tag, Tally};

/// What one event brings to its hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution<'a> {
    /// Quantity.
    pub quantity: i64,
    /// Timestamp in ms (LATEST).
    pub at_ms: i64,
    /// Idempotency key (LATEST's tie-break).
    pub key: &'a str,
    /// Allocations (SUM).
    pub allocations: &'a [Allocation],
    /// For UNIQUE_COUNT: whether the event's value is new in the hour.
    pub new_value: bool,
}

/// The hour would exceed what one AWS record can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the hour's total would exceed {MAX_QUANTITY}")]
pub struct Overflow;

impl Tally {
    /// An hour without events.
    pub fn empty(aggregation: Aggregation) -> Self {
        Self {
            aggregation,
            quantity: 0,
            allocations: BTreeMap::new(),
            latest: None,
        }
    }

    /// Adds one event; on overflow the tally is unchanged.
    pub fn add(&mut self, event: &Contribution<'_>) -> Result<(), Overflow> {
        let mut next = self.clone();
        match self.aggregation {
            Aggregation::Sum => {
                next.quantity = checked(self.quantity + event.quantity)?;
                if !event.allocations.is_empty() || !next.allocations.is_empty() {
                    if next.allocations.is_empty() && self.quantity > 0 {
                        next.allocations.insert(Vec::new(), self.quantity);
                    }
                    if event.allocations.is_empty() {
                        add_to(&mut next.allocations, Vec::new(), event.quantity)?;
                    }
                    for allocation in event.allocations {
                        add_to(
                            &mut next.allocations,
                            sorted(&allocation.tags),
                            allocation.quantity,
                        )?;
                    }
                    // One canonical form whatever the order of the events: no part of 0, and
                    // no allocations at all while nothing is tagged.
                    next.allocations.retain(|_, quantity| *quantity != 0);
                    if next.allocations.keys().all(Vec::is_empty) {
                        next.allocations.clear();
                    }
                }
            }
            Aggregation::Count => next.quantity = checked(self.quantity + 1)?,
            Aggregation::Max => next.quantity = self.quantity.max(event.quantity),
            Aggregation::Latest => {
                let candidate = (event.at_ms, event.key);
                let newer = self
                    .latest
                    .as_ref()
                    .is_none_or(|(at, key)| candidate > (*at, key.as_str()));
                if newer {
                    next.quantity = event.quantity;
                    next.latest = Some((event.at_ms, event.key.to_owned()));
                }
            }
            Aggregation::UniqueCount => {
                if event.new_value {
                    next.quantity = checked(self.quantity + 1)?;
                }
            }
        }
        *self = next;
        Ok(())
    }

    /// Merges `other`, the tally of an earlier hour of the same customer and dimension that is
    /// carried into this one, by this tally's aggregation (callers merge tallies of the same
    /// aggregation): SUM and COUNT add (SUM's allocations too), MAX keeps the larger quantity,
    /// LATEST the quantity of the later (timestamp, key), and UNIQUE_COUNT adds `new_unique`, the
    /// number of `other`'s values not yet in this hour's set (its quantity is not used). Merging
    /// gives the tally that folding both hours' events into one would. On overflow the tally is
    /// unchanged.
    pub fn merge(&mut self, other: &Tally, new_unique: u64) -> Result<(), Overflow> {
        let mut next = self.clone();
        match self.aggregation {
            Aggregation::Sum => {
                next.quantity = checked(self.quantity + other.quantity)?;
                if !self.allocations.is_empty() || !other.allocations.is_empty() {
                    next.allocations = self.tagged_parts();
                    for (tags, quantity) in other.tagged_parts() {
                        add_to(&mut next.allocations, tags, quantity)?;
                    }
                    next.allocations.retain(|_, quantity| *quantity != 0);
                    if next.allocations.keys().all(Vec::is_empty) {
                        next.allocations.clear();
                    }
                }
            }
            Aggregation::Count => next.quantity = checked(self.quantity + other.quantity)?,
            Aggregation::Max => next.quantity = self.quantity.max(other.quantity),
            Aggregation::Latest => {
                if let Some((at, key)) = &other.latest {
                    let newer = self.latest.as_ref().is_none_or(|(mine, my_key)| {
                        (*at, key.as_str()) > (*mine, my_key.as_str())
                    });
                    if newer {
                        next.quantity = other.quantity;
                        next.latest = other.latest.clone();
                    }
                }
            }
            Aggregation::UniqueCount => {
                let added = i64::try_from(new_unique).map_err(|_| Overflow)?;
                next.quantity = checked(self.quantity.checked_add(added).ok_or(Overflow)?)?;
            }
        }
        *self = next;
        Ok(())
    }

    /// SUM's parts per tag set, the untagged part included (the quantity itself when nothing
    /// is tagged).
    fn tagged_parts(&self) -> BTreeMap<Vec<Tag>, i64> {
        if self.allocations.is_empty() && self.quantity != 0 {
            BTreeMap::from([(Vec::new(), self.quantity)])
        } else {
            self.allocations.clone()
        }
    }

    /// The allocations to send (empty when no event carried any).
    pub fn usage_allocations(&self) -> Vec<Allocation> {
        self.allocations
            .iter()
            .map(|(tags, quantity)| Allocation {
                quantity: *quantity,
                tags: tags.clone(),
            })
            .collect()
    }
}

fn checked(quantity: i64) -> Result<i64, Overflow> {
    if quantity > MAX_QUANTITY {
        Err(Overflow)
    } else {
        Ok(quantity)
    }
}

fn add_to(
    map: &mut BTreeMap<Vec<Tag>, i64>,
    tags: Vec<Tag>,
    quantity: i64,
) -> Result<(), Overflow> {
    let slot = map.entry(tags).or_insert(0);
    *slot = checked(*slot + quantity)?;
    Ok(())
}

/// Tags in canonical order, so one set is one key whatever order the client sent.
pub fn sorted(tags: &[Tag]) -> Vec<Tag> {
    let mut tags = tags.to_vec();
    tags.sort();
    tags
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn tag(value: &str) -> Tag {
        Tag {
            key: "team".into(),
            value: value.into(),
        }
    }

    /// (quantity, timestamp ms, key, tagged part or none, value seen before).
    type Raw = (i64, i64, String, Option<(i64, bool)>, bool);

    fn fold(aggregation: Aggregation, events: &[Raw]) -> Tally {
        let mut tally = Tally::empty(aggregation);
        for (quantity, at_ms, key, split, new_value) in events {
            let allocations: Vec<Allocation> = match split {
                Some((part, red)) => {
                    let part = (*part).min(*quantity);
                    vec![
                        Allocation {
                            quantity: part,
                            tags: vec![tag(if *red { "red" } else { "blue" })],
                        },
                        Allocation {
                            quantity: quantity - part,
                            tags: vec![],
                        },
                    ]
                }
                None => vec![],
            };
            tally
                .add(&Contribution {
                    quantity: *quantity,
                    at_ms: *at_ms,
                    key,
                    allocations: if aggregation == Aggregation::Sum {
                        &allocations
                    } else {
                        &[]
                    },
                    new_value: *new_value,
                })
                .unwrap();
        }
        tally
    }

    fn events() -> impl Strategy<Value = Vec<Raw>> {
        prop::collection::vec(
            (
                0..1_000_000i64,
                0..3_600_000i64,
                "[a-z]{1,4}",
                prop::option::of((0..1_000_000i64, any::<bool>())),
                any::<bool>(),
            ),
            0..40,
        )
        .prop_map(|mut events| {
            // Keys are unique per organisation: duplicates never reach a tally.
            let mut seen = std::collections::HashSet::new();
            events.retain(|e| seen.insert(e.2.clone()));
            events
        })
    }

    fn aggregations() -> impl Strategy<Value = Aggregation> {
        prop_oneof![
            Just(Aggregation::Sum),
            Just(Aggregation::Count),
            Just(Aggregation::Max),
            Just(Aggregation::Latest),
            Just(Aggregation::UniqueCount),
        ]
    }

    proptest! {
        #[test]
        fn the_hour_does_not_depend_on_the_order_of_events(
            aggregation in aggregations(),
            events in events(),
            seed in any::<u64>(),
        ) {
            let mut shuffled = events.clone();
            // A deterministic shuffle from the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let a = fold(aggregation, &events);
            let b = fold(aggregation, &shuffled);
            prop_assert_eq!(a.quantity, b.quantity);
            prop_assert_eq!(a.allocations, b.allocations);
        }

        #[test]
        fn allocations_always_add_up_to_the_quantity(events in events()) {
            let tally = fold(Aggregation::Sum, &events);
            if !tally.allocations.is_empty() {
                prop_assert_eq!(tally.allocations.values().sum::<i64>(), tally.quantity);
            }
            prop_assert_eq!(tally.quantity, events.iter().map(|e| e.0).sum::<i64>());
        }
    }

    /// Events split into two hours, folded apart and merged, as one fold would give.
    fn split_and_merge(aggregation: Aggregation, events: &[Raw], at: usize) -> Tally {
        let at = at.min(events.len());
        let mut later = fold(aggregation, &events[at..]);
        later.merge(&fold(aggregation, &events[..at]), 0).unwrap();
        later
    }

    proptest! {
        #[test]
        fn merging_two_hours_gives_the_fold_of_all_their_events(
            aggregation in prop_oneof![
                Just(Aggregation::Sum),
                Just(Aggregation::Count),
                Just(Aggregation::Max),
                Just(Aggregation::Latest),
            ],
            events in events(),
            at in 0..40usize,
        ) {
            let merged = split_and_merge(aggregation, &events, at);
            let all = fold(aggregation, &events);
            prop_assert_eq!(merged.quantity, all.quantity);
            prop_assert_eq!(&merged.allocations, &all.allocations);
            if aggregation == Aggregation::Latest {
                prop_assert_eq!(merged.latest, all.latest);
            }
            if !merged.allocations.is_empty() {
                prop_assert_eq!(merged.allocations.values().sum::<i64>(), merged.quantity);
            }
        }
    }

    fn sum(quantity: i64, parts: &[(&str, i64)]) -> Tally {
        Tally {
            aggregation: Aggregation::Sum,
            quantity,
            allocations: parts
                .iter()
                .map(|(value, part)| {
                    let tags = if value.is_empty() {
                        Vec::new()
                    } else {
                        vec![tag(value)]
                    };
                    (tags, *part)
                })
                .collect(),
            latest: None,
        }
    }

    #[test]
    fn sums_add_their_allocations_and_untagged_parts() {
        // Tagged into untagged: the untagged quantity becomes the untagged part.
        let mut target = sum(4, &[]);
        target.merge(&sum(7, &[("red", 5), ("", 2)]), 0).unwrap();
        assert_eq!(target, sum(11, &[("", 6), ("red", 5)]));
        // Untagged into tagged.
        let mut target = sum(7, &[("red", 5), ("blue", 2)]);
        target.merge(&sum(3, &[]), 0).unwrap();
        assert_eq!(target, sum(10, &[("", 3), ("blue", 2), ("red", 5)]));
        // Nothing tagged on either side: no allocations.
        let mut target = sum(1, &[]);
        target.merge(&sum(2, &[]), 0).unwrap();
        assert_eq!(target, sum(3, &[]));
        // A zero record merges into nothing.
        let mut target = Tally::empty(Aggregation::Sum);
        target.merge(&Tally::empty(Aggregation::Sum), 0).unwrap();
        assert_eq!(target, Tally::empty(Aggregation::Sum));
    }

    #[test]
    fn count_adds_max_keeps_the_larger_and_latest_the_later() {
        let of = |aggregation, quantity, latest: Option<(i64, &str)>| Tally {
            aggregation,
            quantity,
            allocations: BTreeMap::new(),
            latest: latest.map(|(at, key)| (at, key.to_owned())),
        };
        let mut count = of(Aggregation::Count, 3, None);
        count.merge(&of(Aggregation::Count, 4, None), 0).unwrap();
        assert_eq!(count.quantity, 7);

        let mut max = of(Aggregation::Max, 3, None);
        max.merge(&of(Aggregation::Max, 9, None), 0).unwrap();
        assert_eq!(max.quantity, 9);
        max.merge(&of(Aggregation::Max, 2, None), 0).unwrap();
        assert_eq!(max.quantity, 9);

        // The carried hour is older, but its event may be later (a late event of it).
        let mut latest = of(Aggregation::Latest, 5, Some((100, "b")));
        latest
            .merge(&of(Aggregation::Latest, 8, Some((50, "z"))), 0)
            .unwrap();
        assert_eq!(latest, of(Aggregation::Latest, 5, Some((100, "b"))));
        latest
            .merge(&of(Aggregation::Latest, 8, Some((100, "c"))), 0)
            .unwrap();
        assert_eq!(latest, of(Aggregation::Latest, 8, Some((100, "c"))));
        // Into an empty hour; an hour without events (a zero record) changes nothing.
        let mut empty = Tally::empty(Aggregation::Latest);
        empty
            .merge(&of(Aggregation::Latest, 6, Some((1, "a"))), 0)
            .unwrap();
        assert_eq!(empty, of(Aggregation::Latest, 6, Some((1, "a"))));
        empty.merge(&Tally::empty(Aggregation::Latest), 0).unwrap();
        assert_eq!(empty.quantity, 6);
    }

    #[test]
    fn unique_count_adds_only_the_new_values() {
        let mut target = Tally {
            quantity: 3,
            ..Tally::empty(Aggregation::UniqueCount)
        };
        // The carried hour had 5 values, 2 of them new to this hour.
        let carried = Tally {
            quantity: 5,
            ..Tally::empty(Aggregation::UniqueCount)
        };
        target.merge(&carried, 2).unwrap();
        assert_eq!(target.quantity, 5);
    }

    #[test]
    fn a_merge_that_would_overflow_changes_nothing() {
        let mut target = sum(MAX_QUANTITY - 1, &[("red", MAX_QUANTITY - 1)]);
        let before = target.clone();
        assert_eq!(target.merge(&sum(2, &[("", 2)]), 0), Err(Overflow));
        assert_eq!(target, before);
        // Exactly the limit is fine.
        target.merge(&sum(1, &[]), 0).unwrap();
        assert_eq!(target.quantity, MAX_QUANTITY);

        let mut count = Tally {
            quantity: MAX_QUANTITY,
            ..Tally::empty(Aggregation::Count)
        };
        let one = Tally {
            quantity: 1,
            ..Tally::empty(Aggregation::Count)
        };
        assert_eq!(count.merge(&one, 0), Err(Overflow));
        assert_eq!(count.quantity, MAX_QUANTITY);

        let mut unique = Tally {
            quantity: MAX_QUANTITY - 1,
            ..Tally::empty(Aggregation::UniqueCount)
        };
        assert_eq!(unique.merge(&unique.clone(), 2), Err(Overflow));
        assert_eq!(unique.merge(&unique.clone(), u64::MAX), Err(Overflow));
        assert_eq!(unique.quantity, MAX_QUANTITY - 1);
        unique.merge(&unique.clone(), 1).unwrap();
        assert_eq!(unique.quantity, MAX_QUANTITY);
    }

    #[test]
    fn overflow_leaves_the_tally_unchanged() {
        let mut tally = Tally::empty(Aggregation::Sum);
        let big = Contribution {
            quantity: MAX_QUANTITY,
            at_ms: 0,
            key: "a",
            allocations: &[],
            new_value: false,
        };
        tally.add(&big).unwrap();
        let one = Contribution {
            quantity: 1,
            key: "b",
            ..big.clone()
        };
        assert_eq!(tally.add(&one), Err(Overflow));
        assert_eq!(tally.quantity, MAX_QUANTITY);
    }

    #[test]
    fn parts_of_zero_and_untagged_only_allocations_do_not_depend_on_order() {
        let zero = Contribution {
            quantity: 0,
            at_ms: 0,
            key: "a",
            allocations: &[],
            new_value: false,
        };
        let red = [Allocation {
            quantity: 5,
            tags: vec![tag("red")],
        }];
        let tagged = Contribution {
            quantity: 5,
            key: "b",
            allocations: &red,
            ..zero.clone()
        };
        let untagged = [Allocation {
            quantity: 3,
            tags: vec![],
        }];
        let explicit = Contribution {
            quantity: 3,
            key: "c",
            allocations: &untagged,
            ..zero.clone()
        };
        let plain = Contribution {
            quantity: 2,
            key: "d",
            ..zero.clone()
        };
        let fold = |events: &[&Contribution<'_>]| {
            let mut tally = Tally::empty(Aggregation::Sum);
            for event in events {
                tally.add(event).unwrap();
            }
            tally
        };
        assert_eq!(fold(&[&zero, &tagged]), fold(&[&tagged, &zero]));
        assert_eq!(fold(&[&explicit, &plain]), fold(&[&plain, &explicit]));
        assert!(fold(&[&plain, &explicit]).allocations.is_empty());
        let all = fold(&[&zero, &explicit, &tagged, &plain]);
        assert_eq!(all, fold(&[&plain, &tagged, &explicit, &zero]));
        assert_eq!(
            all.allocations,
            BTreeMap::from([(vec![], 5), (vec![tag("red")], 5)])
        );
    }

    #[test]
    fn latest_breaks_ties_by_key() {
        let mut tally = Tally::empty(Aggregation::Latest);
        for (quantity, key) in [(5, "b"), (7, "a")] {
            tally
                .add(&Contribution {
                    quantity,
                    at_ms: 10,
                    key,
                    allocations: &[],
                    new_value: false,
                })
                .unwrap();
        }
        assert_eq!(tally.quantity, 5);
    }
}
