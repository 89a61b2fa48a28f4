//! Process-wide allocator settings.

/// Large blocks (from 128 KiB) get their own mapping, returned to the system when freed. glibc's default
/// raises that threshold to the largest block freed so far: after one argon2 hash (MiBs, at startup for the
/// dummy hash), every block below it comes from per-thread arenas that never shrink, and the server's
/// resident memory grew to hundreds of MiB under load. Setting the threshold also turns that raising off.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; it is called before the runtime starts any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Hands the allocator's free pages back to the system. glibc returns only the free space at the top of each
/// arena by itself; pages freed in the middle (expired cache entries among live ones) stay resident until
/// this asks for them. Called every few seconds off the reactor: it walks the free lists of every arena.
pub fn return_free_pages_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory the allocator holds; it takes the arenas' own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
