//! Change tracking for the journal ([`crate::persist`]): wrappers that remember what a request
//! changed, so persisting costs what changed rather than what is stored.
//!
//! [`Tracked`] marks a whole value dirty when it is borrowed mutably; [`TrackedMap`] remembers
//! the keys written, for collections that grow with traffic (the metering ledger). Both
//! serialize exactly as the value they wrap, so state files and `World` JSON are unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// One change to the persisted world: `path` names a member of the world's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The member at `path` now holds `value`.
    Set {
        /// Object keys from the world's root.
        path: Vec<String>,
        /// The new value.
        value: Value,
    },
    /// The member at `path` is gone.
    Remove {
        /// Object keys from the world's root.
        path: Vec<String>,
    },
}

fn path_of(prefix: &[&str], key: Option<&str>) -> Vec<String> {
    prefix
        .iter()
        .copied()
        .chain(key)
        .map(str::to_owned)
        .collect()
}

fn set(path: Vec<String>, value: &impl Serialize) -> Result<Change, serde_json::Error> {
    Ok(Change::Set {
        path,
        value: serde_json::to_value(value)?,
    })
}

/// A value that records whether it was borrowed mutably since the last
/// [`Tracked::drain`]. A fresh (`Default`) value counts as changed; a deserialized one does not.
#[derive(Debug, Clone)]
pub struct Tracked<T> {
    value: T,
    dirty: bool,
}

impl<T> Tracked<T> {
    /// Wraps `value`, counting it as changed.
    pub fn new(value: T) -> Self {
        Self { value, dirty: true }
    }
}

impl<T: Serialize> Tracked<T> {
    /// The change to journal (the whole value at `path`) when it was borrowed mutably, and forget
    /// it.
    pub fn drain(&mut self, path: &[&str], out: &mut Vec<Change>) -> Result<(), serde_json::Error> {
        if std::mem::take(&mut self.dirty) {
            out.push(set(path_of(path, None), &self.value)?);
        }
        Ok(())
    }
}

impl<T: Default> Default for Tracked<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Tracked<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.dirty = true;
        &mut self.value
    }
}

impl<T: Serialize> Serialize for Tracked<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tracked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            value: T::deserialize(deserializer)?,
            dirty: false,
        })
    }
}

/// A string-keyed map that records the keys written since the last [`TrackedMap::drain`].
/// Reads go through `Deref` to the `BTreeMap`; writes through the methods below.
#[derive(Debug, Clone)]
pub struct TrackedMap<V> {
    map: BTreeMap<String, V>,
    changed: BTreeSet<String>,
    /// The whole map must be written (fresh, or changed in bulk).
    all: bool,
}

impl<V> Default for TrackedMap<V> {
    fn default() -> Self {
        Self {
            map: BTreeMap::new(),
            changed: BTreeSet::new(),
            all: true,
        }
    }
}

impl<V> Deref for TrackedMap<V> {
    type Target = BTreeMap<String, V>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<V> TrackedMap<V> {
    /// Inserts, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        if !self.all {
            self.changed.insert(key.clone());
        }
        self.map.insert(key, value)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let removed = self.map.remove(key);
        if removed.is_some() && !self.all {
            self.changed.insert(key.to_owned());
        }
        removed
    }

    /// A mutable borrow of one value (counted as written).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let value = self.map.get_mut(key)?;
        if !self.all {
            self.changed.insert(key.to_owned());
        }
        Some(value)
    }

    /// The whole map, mutably (counted as a bulk change).
    pub fn as_mut_map(&mut self) -> &mut BTreeMap<String, V> {
        self.all = true;
        self.changed.clear();
        &mut self.map
    }
}

impl<V: Serialize> TrackedMap<V> {
    /// The changes to journal under `path` (one per written key, or the whole map), and forget
    /// them.
    pub fn drain(&mut self, path: &[&str], out: &mut Vec<Change>) -> Result<(), serde_json::Error> {
        if std::mem::take(&mut self.all) {
            self.changed.clear();
            out.push(set(path_of(path, None), &self.map)?);
            return Ok(());
        }
        for key in std::mem::take(&mut self.changed) {
            let path = path_of(path, Some(&key));
            match self.map.get(&key) {
                Some(value) => out.push(set(path, value)?),
                None => out.push(Change::Remove { path }),
            }
        }
        Ok(())
    }
}

impl<V: Serialize> Serialize for TrackedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(serializer)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for TrackedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            map: BTreeMap::deserialize(deserializer)?,
            changed: BTreeSet::new(),
            all: false,
        })
    }
}

impl<V> FromIterator<(String, V)> for TrackedMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        Self {
            map: iter.into_iter().collect(),
            changed: BTreeSet::new(),
            all: true,
        }
    }
}

/// Applies `change` to a world's JSON (creating missing objects on the way).
pub fn apply(root: &mut Value, change: Change) {
    let (path, value) = match change {
        Change::Set { path, value } => (path, Some(value)),
        Change::Remove { path } => (path, None),
    };
    let Some((last, parents)) = path.split_last() else {
        if let Some(value) = value {
            *root = value;
        }
        return;
    };
    let mut node = root;
    for key in parents {
        if !node.is_object() {
            *node = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = node else { return };
        node = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(serde_json::Map::new());
    }
    let Value::Object(map) = node else { return };
    match value {
        Some(value) => {
            map.insert(last.clone(), value);
        }
        None => {
            map.remove(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_what_changed_is_journaled_and_replays_to_the_same_json() {
        let mut map: TrackedMap<i64> = TrackedMap::default();
        map.insert("a".into(), 1);
        let mut tracked = Tracked::new(json!({"x": 1}));
        let mut changes = Vec::new();
        map.drain(&["m"], &mut changes).ok();
        tracked.drain(&["t"], &mut changes).ok();
        assert_eq!(changes.len(), 2, "fresh values are written whole");

        changes.clear();
        map.drain(&["m"], &mut changes).ok();
        tracked.drain(&["t"], &mut changes).ok();
        let _ = tracked.get("x");
        assert!(changes.is_empty(), "reads change nothing");

        map.insert("b".into(), 2);
        map.remove("a");
        if let Some(v) = map.get_mut("b") {
            *v = 3;
        }
        tracked["y"] = json!(2);
        map.drain(&["m"], &mut changes).ok();
        tracked.drain(&["t"], &mut changes).ok();
        assert_eq!(changes.len(), 3, "{changes:?}");

        let mut root = json!({"m": {"a": 1}, "t": {"x": 1}});
        for change in changes {
            apply(&mut root, change);
        }
        assert_eq!(root, json!({"m": {"b": 3}, "t": {"x": 1, "y": 2}}));
    }
}
