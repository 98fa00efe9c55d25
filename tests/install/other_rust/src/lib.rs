//! A Rust static library that uses the standard library's allocator, formatting and
//! unwinding: what could meet packr's copy of them in one program.

/// The length of the numbers 0..n written out one after another, computed through a
/// caught panic's machinery too.
#[unsafe(no_mangle)]
pub extern "C" fn other_rust_digits(n: u32) -> usize {
    let numbers: Vec<String> = (0..n).map(|i| format!("{i}")).collect();
    std::panic::catch_unwind(|| numbers.concat().len()).unwrap_or(0)
}
