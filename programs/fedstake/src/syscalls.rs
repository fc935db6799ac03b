//! The few runtime services the program uses, behind functions that also
//! compile on the host (where unit tests run with a software SHA-256).

use pinocchio::error::ProgramError;

/// `sha256(parts[0] ‖ parts[1] ‖ …)`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    sha256_into(parts, &mut out);
    out
}

/// `sha256(parts[0] ‖ parts[1] ‖ …)` written to `out`.
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
#[inline(always)]
pub fn sha256_into(parts: &[&[u8]], out: &mut [u8; 32]) {
    // SAFETY: `parts` is a slice of (ptr, len) fat pointers, the layout the
    // syscall reads; `out` is 32 writable bytes.
    unsafe {
        pinocchio::syscalls::sol_sha256(
            parts as *const _ as *const u8,
            parts.len() as u64,
            out.as_mut_ptr(),
        );
    }
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn sha256_into(parts: &[&[u8]], out: &mut [u8; 32]) {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    out.copy_from_slice(&hasher.finalize());
}

/// Emits `parts` as one `Program data:` log entry (Anchor's event channel).
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
pub fn log_data(parts: &[&[u8]]) {
    // SAFETY: same fat-pointer slice layout as `sol_sha256`; read-only.
    unsafe {
        pinocchio::syscalls::sol_log_data(parts as *const _ as *const u8, parts.len() as u64);
    }
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn log_data(_parts: &[&[u8]]) {}

/// Logs `message` as one `Program log: <message>` line.
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
pub fn log(message: &str) {
    // SAFETY: pointer and length of a valid UTF-8 string; read-only.
    unsafe {
        pinocchio::syscalls::sol_log_(message.as_ptr(), message.len() as u64);
    }
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn log(_message: &str) {}

/// Whether `bytes` decompress to a point of the ed25519 curve (the runtime's
/// `bytes_are_curve_point`), via `sol_curve_validate_point` (159 CU, against
/// 1,500 CU per `create_program_address` try).
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
pub fn on_curve(bytes: &[u8; 32]) -> bool {
    const CURVE25519_EDWARDS: u64 = 0;
    let mut unused = [0u8; 32];
    // SAFETY: `bytes` is 32 readable bytes (a compressed point); the syscall
    // writes nothing for validation but takes a result pointer, given 32 bytes.
    let invalid = unsafe {
        pinocchio::syscalls::sol_curve_validate_point(
            CURVE25519_EDWARDS,
            bytes.as_ptr(),
            unused.as_mut_ptr(),
        )
    };
    invalid == 0
}

/// Host stand-in: host tests never search for PDAs (the SVM tests do).
#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn on_curve(_bytes: &[u8; 32]) -> bool {
    unimplemented!("curve checks need the runtime; exercised by the SVM tests")
}

/// Current unix timestamp from the Clock sysvar (via syscall, so no sysvar
/// account can be forged by the caller).
#[inline(always)]
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
pub fn now() -> Result<i64, ProgramError> {
    use pinocchio::sysvars::{clock::Clock, Sysvar};
    Ok(Clock::get()?.unix_timestamp)
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn now() -> Result<i64, ProgramError> {
    Err(ProgramError::UnsupportedSysvar)
}

/// Rent-exempt minimum for `len` bytes of data.
#[inline(always)]
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
pub fn rent_exempt_minimum(len: usize) -> Result<u64, ProgramError> {
    use pinocchio::sysvars::{rent::Rent, Sysvar};
    Rent::get()?.try_minimum_balance(len)
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn rent_exempt_minimum(len: usize) -> Result<u64, ProgramError> {
    // Default rent: 3480 lamports per byte-year, 2 years, 128 bytes overhead.
    Ok(((len as u64) + 128) * 3480 * 2)
}

/// `dst.copy_from_slice(src)` with the runtime's `sol_memcpy_` (10 CU for up to
/// 2,500 bytes, where a compiled copy of unaligned data moves byte by byte).
/// Panics (a program bug) if the lengths differ, like `copy_from_slice`.
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
pub fn copy(dst: &mut [u8], src: &[u8]) {
    assert!(dst.len() == src.len());
    // SAFETY: both slices are valid for `len` bytes and cannot overlap (one is
    // borrowed mutably).
    unsafe {
        pinocchio::syscalls::sol_memcpy_(dst.as_mut_ptr(), src.as_ptr(), src.len() as u64);
    }
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn copy(dst: &mut [u8], src: &[u8]) {
    dst.copy_from_slice(src);
}

/// `a == b` for 32-byte keys with the runtime's `sol_memcmp_` (10 CU), where
/// the compiled comparison of unaligned bytes costs ~160.
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
#[inline(always)]
pub fn same_key(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut result = 0i32;
    // SAFETY: both are 32 readable bytes; `result` is a writable i32.
    unsafe {
        pinocchio::syscalls::sol_memcmp_(a.as_ptr(), b.as_ptr(), 32, &mut result);
    }
    result == 0
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn same_key(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a == b
}

/// Copies `src` to `dst` (`sol_memcpy_` on chain).
///
/// # Safety
/// `dst` must be valid for `src.len()` bytes of writes and not overlap `src`.
#[inline(always)]
pub unsafe fn copy_raw(dst: *mut u8, src: &[u8]) {
    // SAFETY: the caller guarantees `dst` is valid for `src.len()` bytes.
    copy(
        unsafe { core::slice::from_raw_parts_mut(dst, src.len()) },
        src,
    );
}
