//! Model names interned to small indices, so battles are a few integers each.

use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Names {
    names: Vec<String>,
    // FxHash: looked up once or twice per battle, millions of times.
    index: FxHashMap<String, u32>,
}

impl Names {
    /// The index of `name`, adding it if new.
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn as_slice(&self) -> &[String] {
        &self.names
    }

    pub fn into_vec(self) -> Vec<String> {
        self.names
    }
}
