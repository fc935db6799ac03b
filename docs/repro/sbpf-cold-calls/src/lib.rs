//! Two `#[cold]` functions called from `entrypoint`. LLVM places cold functions
//! in `.text.unlikely.`, and calls into that section carry relocations against
//! the section symbol; sbpf-linker 0.1.9 resolves neither call.
#![no_std]

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cold]
#[inline(never)]
fn cold_a(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9).rotate_left(7) ^ 0xa
}

#[cold]
#[inline(never)]
fn cold_b(x: u64) -> u64 {
    x.wrapping_mul(0x85eb_ca6b).rotate_left(13) ^ 0xb
}

/// # Safety
/// `input` points to at least one readable byte (the SBF loader's input region).
#[no_mangle]
pub unsafe extern "C" fn entrypoint(input: *const u8) -> u64 {
    let x = u64::from(core::ptr::read_volatile(input.add(1)));
    match core::ptr::read_volatile(input) {
        1 => cold_a(x),
        2 => cold_b(x),
        _ => 0,
    }
}
