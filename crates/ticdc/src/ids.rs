//! Many ids held in one string. A shared cluster lists 100,000 changefeeds a repository does not
//! manage; a `String` each cost an allocation to take and one to free, together more than
//! reading them from the list.

use std::cmp::Ordering;
use std::fmt;

/// A list of ids, one after another in one string. Order is push order until [`Ids::sort`].
#[derive(Clone, Default)]
pub struct Ids {
    text: String,
    /// Where each id begins and ends in `text`.
    spans: Vec<(u32, u32)>,
}

impl Ids {
    pub fn new() -> Ids {
        Ids::default()
    }

    /// Appends `id`. A list body is at most `client::MAX_BODY` (64 MiB), so offsets fit a u32;
    /// past 4 GiB this panics rather than wrap.
    pub fn push(&mut self, id: &str) {
        let start = u32::try_from(self.text.len()).expect("ids under 4 GiB");
        self.text.push_str(id);
        let end = u32::try_from(self.text.len()).expect("ids under 4 GiB");
        self.spans.push((start, end));
    }

    /// Room for `ids` more ids of `bytes` in all.
    pub fn reserve(&mut self, ids: usize, bytes: usize) {
        self.spans.reserve(ids);
        self.text.reserve(bytes);
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn at(&self, span: (u32, u32)) -> &str {
        at(&self.text, span)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        self.spans.iter().map(|s| self.at(*s))
    }

    /// Sorts by byte order. A classic server lists in order; the new architecture in no
    /// particular order (Go map iteration), which the simulator plays as reverse order. Both
    /// runs are recognised before sorting.
    pub fn sort(&mut self) {
        let text = &self.text;
        let order = |a: &(u32, u32), b: &(u32, u32)| at(text, *a).cmp(at(text, *b));
        if self
            .spans
            .is_sorted_by(|a, b| order(a, b) != Ordering::Greater)
        {
            return;
        }
        if self
            .spans
            .is_sorted_by(|a, b| order(a, b) != Ordering::Less)
        {
            self.spans.reverse();
        } else {
            self.spans.sort_unstable_by(order);
        }
    }

    /// Appends every id of `other`.
    pub fn extend_from(&mut self, other: &Ids) {
        for id in other.iter() {
            self.push(id);
        }
    }
}

fn at(text: &str, (start, end): (u32, u32)) -> &str {
    &text[start as usize..end as usize]
}

impl PartialEq for Ids {
    fn eq(&self, other: &Ids) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Ids {}

impl fmt::Debug for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> FromIterator<&'a str> for Ids {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Ids {
        let mut ids = Ids::new();
        for id in iter {
            ids.push(id);
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_keep_push_order_and_sort_by_bytes() {
        let mut ids: Ids = ["b", "", "a\u{e9}", "a", "ab"].into_iter().collect();
        assert_eq!(ids.len(), 5);
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            ["b", "", "a\u{e9}", "a", "ab"]
        );
        ids.sort();
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            ["", "a", "ab", "a\u{e9}", "b"]
        );
        assert!(Ids::new().is_empty());
    }

    proptest! {
        /// In order, in reverse or shuffled, the ids sort as a `Vec<String>` does.
        #[test]
        fn sorting_matches_a_vec_of_strings(
            mut v in proptest::collection::vec("[a-c\u{e9}]{0,4}", 0..40),
            shape in 0u8..3,
        ) {
            match shape {
                0 => v.sort(),
                1 => { v.sort(); v.reverse(); }
                _ => {}
            }
            let mut ids: Ids = v.iter().map(String::as_str).collect();
            let mut more = Ids::new();
            more.extend_from(&ids);
            prop_assert_eq!(&more, &ids);
            ids.sort();
            v.sort();
            prop_assert_eq!(ids.iter().collect::<Vec<_>>(), v.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}
