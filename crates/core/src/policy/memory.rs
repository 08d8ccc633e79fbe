//! The memory limit of a policy evaluation: the process allocator counts what the evaluating
//! thread holds while a rule runs, and a rule that goes over [`MEMORY_LIMIT`] ends the process
//! with exit status 1 and a message naming it. A policy check never passes by running out of
//! memory, and nothing is written to a cluster (policies run before any change).
//!
//! Why end the process: regorus' own limit needs its mimalloc build as the global allocator
//! (about 12 MiB more resident memory for every plan), and an allocation cannot fail softly in
//! Rust (a null return aborts; an allocator must not unwind). The counting here is a
//! thread-local add per allocation, and only while a rule runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;

/// Most a policy evaluation of one input may hold at once, beyond its input.
pub const MEMORY_LIMIT: usize = 256 << 20;

/// The system allocator, counting while a [`Guard`] is armed on the allocating thread.
pub struct Counting;

thread_local! {
    /// Limit in force on this thread (0 = not counting), bytes held since arming, and what is
    /// running (a label made before arming, so reporting needs no allocation).
    static LIMIT: Cell<usize> = const { Cell::new(0) };
    static HELD: Cell<isize> = const { Cell::new(0) };
    static LABEL: Cell<(*const u8, usize)> = const { Cell::new((std::ptr::null(), 0)) };
}

fn count(delta: isize) {
    let over = LIMIT
        .try_with(|l| {
            let limit = l.get();
            if limit == 0 {
                return false;
            }
            HELD.with(|h| {
                let held = h.get() + delta;
                h.set(held);
                held > limit as isize
            })
        })
        .unwrap_or(false);
    if over {
        exceeded();
    }
}

#[cold]
fn exceeded() -> ! {
    let limit = LIMIT.with(|l| l.replace(0));
    let (ptr, len) = LABEL.with(Cell::get);
    // SAFETY: the label is a live `String` owned by the armed `Guard` on this very thread.
    let label = unsafe { std::slice::from_raw_parts(ptr, len) };
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(b"error: policy rule ");
    let _ = err.write_all(label);
    // Formatting an integer into the locked stderr allocates nothing (and counting is off).
    let _ = write!(
        err,
        " went over the policy memory limit of {} MiB, so the policy check did not pass; \
         nothing was changed\nhelp: fix the rule; a rule that runs out of memory never counts as a pass\n",
        limit >> 20
    );
    let _ = err.flush();
    std::process::exit(1)
}

// SAFETY: every call goes to `System` unchanged; the counting touches thread-locals only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// While alive, allocations on this thread count against `limit`; `label` (the rule and its
/// file) is what the message names.
pub struct Guard {
    label: String,
}

impl Guard {
    pub fn arm(label: String, limit: usize) -> Guard {
        let g = Guard { label };
        LABEL.with(|l| l.set((g.label.as_ptr(), g.label.len())));
        HELD.with(|h| h.set(0));
        LIMIT.with(|l| l.set(limit));
        g
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        LIMIT.with(|l| l.set(0));
        LABEL.with(|l| l.set((std::ptr::null(), 0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_while_armed_and_frees_are_subtracted() {
        let before = HELD.with(Cell::get);
        let _outside = vec![0u8; 1 << 20];
        assert_eq!(HELD.with(Cell::get), before, "not armed: nothing counted");
        let g = Guard::arm("t (x.rego:1)".into(), 64 << 20);
        let v = vec![0u8; 8 << 20];
        assert!(HELD.with(Cell::get) >= 8 << 20);
        drop(v);
        assert!(HELD.with(Cell::get) < 1 << 20, "a free is subtracted");
        drop(g);
        assert_eq!(LIMIT.with(Cell::get), 0);
    }
}
