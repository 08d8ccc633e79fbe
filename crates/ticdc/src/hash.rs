//! Hashing helpers shared by the client and the planner: a stable 64-bit hash of JSON values
//! (fingerprints, memo keys) and a gate that turns a per-thread cache off while it only misses.

use serde_json::Value;

/// Whether a small per-thread cache is worth asking. After [`CacheGate::MISSES`] misses in a
/// row (every input distinct, so caching only costs) it is asked one call in
/// [`CacheGate::PROBE`], to notice when inputs repeat again; a hit opens it fully. Used by the
/// effective-config memo and the config decode cache (`ticdc::models::decode_config`).
#[derive(Default)]
pub struct CacheGate {
    misses: u32,
    calls: u32,
}

impl CacheGate {
    /// Misses in a row after which the cache is asked only now and then.
    pub const MISSES: u32 = 64;
    /// Then one call in this many asks it.
    pub const PROBE: u32 = 16;

    /// Whether the cache is asked on every call.
    pub fn is_open(&self) -> bool {
        self.misses < Self::MISSES
    }

    /// Whether this call should ask the cache.
    pub fn ask(&mut self) -> bool {
        if self.is_open() {
            return true;
        }
        self.calls = self.calls.wrapping_add(1);
        self.calls.is_multiple_of(Self::PROBE)
    }

    pub fn hit(&mut self) {
        self.misses = 0;
    }

    pub fn miss(&mut self) {
        self.misses = self.misses.saturating_add(1);
    }
}

/// A 64-bit hash fed eight bytes at a time, each word folded in through a 64×64→128-bit
/// multiply (the mixing step of wyhash/foldhash); fixed constants, so the same fields give the
/// same fingerprint on every machine and run. A type tag and a length go before each value so
/// that different structures never feed the same words.
pub struct Fold64(pub u64);

impl Default for Fold64 {
    fn default() -> Fold64 {
        Fold64::new()
    }
}

impl Fold64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;

    pub fn new() -> Fold64 {
        Fold64(0x243f_6a88_85a3_08d3)
    }
    pub fn word(&mut self, w: u64) {
        let m = ((self.0 ^ w) as u128).wrapping_mul(Self::K as u128);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
    pub fn tag(&mut self, t: u8, len: usize) {
        self.word(((len as u64) << 8) | t as u64);
    }
    fn bytes(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }
    pub fn str(&mut self, s: &str) {
        self.tag(3, s.len());
        self.bytes(s.as_bytes());
    }
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.tag(0, 0),
            Value::Bool(b) => self.tag(1, *b as usize),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => {
                    self.tag(2, 0);
                    self.word(u);
                }
                (_, Some(i), _) => {
                    self.tag(2, 1);
                    self.word(i as u64);
                }
                (_, _, f) => {
                    self.tag(2, 2);
                    self.word(f.unwrap_or(0.0).to_bits());
                }
            },
            Value::String(s) => self.str(s),
            Value::Array(a) => {
                self.tag(4, a.len());
                a.iter().for_each(|x| self.value(x));
            }
            Value::Object(o) => {
                self.tag(5, o.len());
                for (k, x) in o {
                    self.str(k);
                    self.value(x);
                }
            }
        }
    }
}
