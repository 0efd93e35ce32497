//! Fast reads of multi-bit C bitfields (`v->len:28`, ...).
//!
//! bindgen's getters assemble a bitfield one bit at a time, and LLVM keeps
//! that as a test-shift-or per bit: reading a variable value's 28-bit
//! length cost about 100 instructions, paid on every `ngx.var` read.
//! These read the unit's bytes as one little-endian integer and mask,
//! which is what a C compiler emits for the field on the little-endian
//! targets nginx-sys builds for (C lays bitfields out from the lowest bit
//! there; the unit tests check the offsets against bindgen's getters).
use nginx_sys::{__BindgenBitfieldUnit, ngx_variable_value_t};

#[cfg(not(target_endian = "little"))]
compile_error!("nginx::bitfield assumes little-endian bitfield layout");

/// `width` bits at bit `offset` of a bitfield unit, as bindgen's
/// `get(offset, width)` returns them (`offset % 8 + width <= 64`).
#[inline(always)]
fn get<const N: usize>(unit: &__BindgenBitfieldUnit<[u8; N]>, offset: usize, width: usize) -> u64 {
    // SAFETY: __BindgenBitfieldUnit is repr(C) with its storage as the
    // only field, so a reference to it is a reference to the bytes.
    let bytes = unsafe { &*(unit as *const __BindgenBitfieldUnit<[u8; N]> as *const [u8; N]) };
    let start = offset / 8;
    let mut word = [0u8; 8];
    let n = (N - start).min(8);
    word[..n].copy_from_slice(&bytes[start..start + n]);
    let v = u64::from_le_bytes(word) >> (offset % 8);
    if width >= 64 {
        v
    } else {
        v & ((1u64 << width) - 1)
    }
}

/// `vv->len` (28 bits at the start of the unit in every nginx).
#[inline(always)]
pub fn value_len(vv: &ngx_variable_value_t) -> usize {
    get(&vv._bitfield_1, 0, 28) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_len_matches_bindgen() {
        // SAFETY: all-zero is a valid variable value (null data).
        let mut vv: ngx_variable_value_t = unsafe { core::mem::zeroed() };
        for len in [0u32, 1, 5, 255, 256, 65_535, (1 << 28) - 1] {
            for flags in 0..16u32 {
                vv.set_len(len);
                vv.set_valid(flags & 1);
                vv.set_no_cacheable((flags >> 1) & 1);
                vv.set_not_found((flags >> 2) & 1);
                vv.set_escape((flags >> 3) & 1);
                assert_eq!(value_len(&vv), vv.len() as usize, "len {len} flags {flags}");
            }
        }
    }
}
