//! The keys of changefeeds a plan only names (unmanaged, and managed but in no manifest): a
//! shared cluster has 100,000 of them, known from its list alone, so they are held by namespace
//! with the ids in one string each ([`Ids`]) rather than as a [`Key`] (two strings) apiece.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Key;
use crate::ticdc::ids::Ids;

/// A changefeed's key, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KeyRef<'a> {
    pub namespace: &'a str,
    pub id: &'a str,
}

impl KeyRef<'_> {
    pub fn to_key(self) -> Key {
        Key {
            namespace: self.namespace.to_string(),
            id: self.id.to_string(),
        }
    }
}

impl fmt::Display for KeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.id)
    }
}

impl Key {
    pub fn borrowed(&self) -> KeyRef<'_> {
        KeyRef {
            namespace: &self.namespace,
            id: &self.id,
        }
    }
}

/// Keys grouped by namespace (one group each). Sorted by namespace, then id, after
/// [`KeyList::sort`] (before it, in no order to rely on); written in JSON as a list of `{"namespace", "id"}`, as `Vec<Key>` is.
#[derive(Clone, Default)]
pub struct KeyList {
    groups: Vec<(String, Ids)>,
}

impl KeyList {
    pub fn new() -> KeyList {
        KeyList::default()
    }

    /// The ids of `namespace`, a group made for it if it has none. Keys come grouped (a list is
    /// one namespace), so the last group is looked at first.
    fn group(&mut self, namespace: &str) -> &mut Ids {
        let at = match self.groups.iter().rposition(|(ns, _)| ns == namespace) {
            Some(at) => at,
            None => {
                self.groups.push((namespace.to_string(), Ids::new()));
                self.groups.len() - 1
            }
        };
        &mut self.groups[at].1
    }

    pub fn push(&mut self, key: KeyRef<'_>) {
        self.group(key.namespace).push(key.id);
    }

    /// Adds every id of `ids`, in `namespace`. The smaller of the two is copied into the
    /// larger, so the order is the pushes' only until [`KeyList::sort`].
    pub fn append(&mut self, namespace: &str, mut ids: Ids) {
        let group = self.group(namespace);
        if group.len() < ids.len() {
            std::mem::swap(group, &mut ids);
        }
        group.extend_from(&ids);
    }

    /// Adds every key of `other`.
    pub fn absorb(&mut self, other: KeyList) {
        for (namespace, ids) in other.groups {
            self.append(&namespace, ids);
        }
    }

    /// Splits the keys by `pred` on their id: (those it accepts, the others). A group that
    /// falls on one side as a whole moves there without a copy.
    pub fn partition(self, pred: impl Fn(&str) -> bool) -> (KeyList, KeyList) {
        let (mut yes, mut no) = (KeyList::new(), KeyList::new());
        for (namespace, ids) in self.groups {
            let said: Vec<bool> = ids.iter().map(&pred).collect();
            let accepted = said.iter().filter(|y| **y).count();
            if accepted == said.len() {
                yes.append(&namespace, ids);
            } else if accepted == 0 {
                no.append(&namespace, ids);
            } else {
                let (mut y, mut n) = (Ids::new(), Ids::new());
                y.reserve(accepted, 0);
                n.reserve(said.len() - accepted, 0);
                for (id, said) in ids.iter().zip(said) {
                    if said {
                        y.push(id);
                    } else {
                        n.push(id);
                    }
                }
                yes.append(&namespace, y);
                no.append(&namespace, n);
            }
        }
        (yes, no)
    }

    pub fn len(&self) -> usize {
        self.groups.iter().map(|(_, ids)| ids.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(|(_, ids)| ids.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = KeyRef<'_>> + '_ {
        self.groups.iter().flat_map(|(namespace, ids)| {
            ids.iter().map(move |id| KeyRef {
                namespace: namespace.as_str(),
                id,
            })
        })
    }

    pub fn sort(&mut self) {
        self.groups.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, ids) in &mut self.groups {
            ids.sort();
        }
    }
}

impl PartialEq for KeyList {
    fn eq(&self, other: &KeyList) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for KeyList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> FromIterator<KeyRef<'a>> for KeyList {
    fn from_iter<I: IntoIterator<Item = KeyRef<'a>>>(iter: I) -> KeyList {
        let mut list = KeyList::new();
        for key in iter {
            list.push(key);
        }
        list
    }
}

impl Serialize for KeyList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyList, D::Error> {
        let keys = Vec::<Key>::deserialize(d)?;
        Ok(keys.iter().map(Key::borrowed).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, id: &str) -> Key {
        Key {
            namespace: ns.into(),
            id: id.into(),
        }
    }

    #[test]
    fn a_key_list_sorts_and_reads_as_a_vec_of_keys() {
        let keys = vec![
            key("b", "x"),
            key("a", "z"),
            key("b", "a"),
            key("a", "y"),
            key("a\u{e9}", "q"),
        ];
        let mut list: KeyList = keys.iter().map(Key::borrowed).collect();
        assert_eq!(list.len(), 5);
        let mut ids = Ids::new();
        ids.push("c");
        list.append("b", ids);
        list.append("c", ["w"].into_iter().collect());
        list.sort();
        let mut want = keys.clone();
        want.extend([key("b", "c"), key("c", "w")]);
        want.sort();
        let got: Vec<Key> = list.iter().map(KeyRef::to_key).collect();
        assert_eq!(got, want);
        assert_eq!(list.iter().next().unwrap().to_string(), "a/y");
        // The JSON of a plan file is that of `Vec<Key>`, both ways.
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json, serde_json::to_value(&want).unwrap());
        let back: KeyList = serde_json::from_value(json).unwrap();
        assert_eq!(back, list);
        // Split by id: a group on one side moves whole, a mixed one is divided.
        let (yes, no) = list.clone().partition(|id| id < "x");
        assert_eq!(yes.len() + no.len(), list.len());
        assert!(yes.iter().all(|k| k.id < "x") && no.iter().all(|k| k.id >= "x"));
        assert_eq!(
            no.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            ["a/y", "a/z", "b/x"]
        );
        let (all, none) = list.clone().partition(|_| true);
        assert_eq!((all, none.is_empty()), (list.clone(), true));
        assert!(KeyList::new().is_empty());
        assert_eq!(KeyList::new().len(), 0);
    }
}
