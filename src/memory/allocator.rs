//! The process allocator: glibc's malloc for the server, mimalloc for batch builds.
//!
//! A catalog build allocates tens of millions of short-lived strings and vectors
//! (parsed records, words, tokens, documents) across four busy threads; glibc's malloc
//! spent a quarter of the build's instructions on them and the kernel another 10 % of
//! its time on page faults and trims. mimalloc does the same work in less: the 1M
//! demo build went from 50–60 s to 40–42 s on the 2-core machine (docs/performance.md,
//! "Index build"). The long-running server stays on glibc, whose arena cap
//! (`super::cap_malloc_arenas`) is what kept its RSS flat over the soak; mimalloc's
//! per-thread heaps held 50 % more at the same load.
//!
//! [`Hybrid`] is the binary's `#[global_allocator]`. Until [`use_batch_allocator`] is
//! called, every allocation goes to the system allocator; after it, new allocations go
//! to mimalloc. Frees and reallocations go to whichever allocator owns the block,
//! asked of mimalloc's page map (`mi_is_in_heap_region`, an exact lookup that answers
//! false for any block it did not hand out, and before mimalloc has ever allocated).
//! So blocks allocated before the switch, or by the other side, are always released
//! where they came from: switching is safe at any time, though commands switch once,
//! first thing in `main`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use libmimalloc_sys as mi;

/// Whether new allocations go to mimalloc.
static BATCH: AtomicBool = AtomicBool::new(false);

/// Sends every later allocation of the process to mimalloc (batch commands). There is
/// no way back: [`owned_by_mimalloc`] relies on it.
pub fn use_batch_allocator() {
    BATCH.store(true, Ordering::Relaxed);
}

/// True once [`use_batch_allocator`] was called.
pub fn batch_allocator_in_use() -> bool {
    BATCH.load(Ordering::Relaxed)
}

/// The system allocator until [`use_batch_allocator`], mimalloc after (module docs).
pub struct Hybrid;

/// mimalloc aligns every block to at least this; smaller alignments skip the aligned
/// entry points, whose extra checks cost 7 % of a build's instructions.
const MIMALLOC_MIN_ALIGN: usize = std::mem::size_of::<usize>();

/// True when mimalloc handed out `ptr`. Until the switch (which is never undone)
/// nothing came from mimalloc, so the server never pays for the lookup.
fn owned_by_mimalloc(ptr: *mut u8) -> bool {
    // SAFETY: a page-map lookup; it reads no memory at `ptr` and accepts any address.
    batch_allocator_in_use() && unsafe { mi::mi_is_in_heap_region(ptr as *const c_void) }
}

// SAFETY: every block is released by the allocator that handed it out (see
// `owned_by_mimalloc`), and each allocator upholds `GlobalAlloc` for its own blocks.
unsafe impl GlobalAlloc for Hybrid {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if batch_allocator_in_use() {
            // SAFETY: mimalloc accepts any size and power-of-two alignment.
            unsafe {
                if layout.align() <= MIMALLOC_MIN_ALIGN {
                    mi::mi_malloc(layout.size()) as *mut u8
                } else {
                    mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
                }
            }
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.alloc(layout) }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if batch_allocator_in_use() {
            // SAFETY: as `alloc`.
            unsafe {
                if layout.align() <= MIMALLOC_MIN_ALIGN {
                    mi::mi_zalloc(layout.size()) as *mut u8
                } else {
                    mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
                }
            }
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if owned_by_mimalloc(ptr) {
            // SAFETY: mimalloc handed out `ptr` and it is freed once (caller's contract).
            unsafe { mi::mi_free(ptr as *mut c_void) }
        } else {
            // SAFETY: the system allocator handed out `ptr` with `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if owned_by_mimalloc(ptr) {
            // SAFETY: mimalloc handed out `ptr` with `layout.align()`.
            unsafe {
                if layout.align() <= MIMALLOC_MIN_ALIGN {
                    mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
                } else {
                    mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
                }
            }
        } else {
            // SAFETY: the system allocator handed out `ptr` with `layout`.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocates with `Hybrid`, fills, and checks the bytes survive a realloc.
    fn round_trip(size: usize, align: usize) -> *mut u8 {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: non-zero size; the block is written within its size.
        unsafe {
            let ptr = Hybrid.alloc(layout);
            assert!(!ptr.is_null());
            assert_eq!(ptr as usize % align, 0);
            std::ptr::write_bytes(ptr, 0xAB, size);
            ptr
        }
    }

    #[test]
    fn blocks_are_released_by_the_allocator_that_made_them() {
        // The test binary's own allocator is the system one; `Hybrid` is called directly,
        // so switching it here changes nothing for the other tests.
        let sizes = [
            (1, 1),
            (8, 8),
            (24, 8),
            (100, 16),
            (4096, 64),
            (3 << 20, 4096),
        ];
        let before: Vec<*mut u8> = sizes.iter().map(|&(s, a)| round_trip(s, a)).collect();
        assert!(before.iter().all(|&p| !owned_by_mimalloc(p)));
        use_batch_allocator();
        let after: Vec<*mut u8> = sizes.iter().map(|&(s, a)| round_trip(s, a)).collect();
        assert!(after.iter().all(|&p| owned_by_mimalloc(p)));
        // Grow blocks from both sides after the switch: contents move with them, and
        // a system block stays a system block.
        for (ptrs, owned) in [(&before, false), (&after, true)] {
            for (&ptr, &(size, align)) in ptrs.iter().zip(&sizes) {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: `ptr` came from `Hybrid` with `layout` and is released once.
                unsafe {
                    let grown = Hybrid.realloc(ptr, layout, size * 2);
                    assert!(!grown.is_null());
                    assert_eq!(owned_by_mimalloc(grown), owned);
                    assert!(
                        std::slice::from_raw_parts(grown, size)
                            .iter()
                            .all(|&b| b == 0xAB)
                    );
                    let grown_layout = Layout::from_size_align(size * 2, align).unwrap();
                    Hybrid.dealloc(grown, grown_layout);
                }
            }
        }
        // Zeroed blocks are zero on both sides.
        let layout = Layout::from_size_align(1 << 16, 8).unwrap();
        // SAFETY: non-zero size, read within it, released once.
        unsafe {
            let zeroed = Hybrid.alloc_zeroed(layout);
            assert!(
                std::slice::from_raw_parts(zeroed, 1 << 16)
                    .iter()
                    .all(|&b| b == 0)
            );
            Hybrid.dealloc(zeroed, layout);
        }
    }
}
