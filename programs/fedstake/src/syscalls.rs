//! The few runtime services the program uses, behind functions that also
//! compile on the host (where unit tests run with a software SHA-256).

use pinocchio::error::ProgramError;

/// `sha256(parts[0] ‖ parts[1] ‖ …)`.
#[cfg(any(target_os = "solana", target_arch = "bpf"))]
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: `parts` is a slice of (ptr, len) fat pointers, the layout the
    // syscall reads; `out` is 32 writable bytes.
    unsafe {
        pinocchio::syscalls::sol_sha256(
            parts as *const _ as *const u8,
            parts.len() as u64,
            out.as_mut_ptr(),
        );
    }
    out
}

#[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
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
