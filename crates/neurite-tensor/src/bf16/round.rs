//! Rounding `f32` to bfloat16 (round to nearest, ties to even), by bit arithmetic.

/// The bf16 bit pattern nearest to `x` (ties to even): the upper 16 bits of the
/// rounded `f32`. NaN stays a (quiet) NaN of the same sign, ±inf stay ±inf, and
/// finite values beyond bf16's largest finite value round to ±inf.
#[inline(always)]
pub(crate) fn to_bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    // NaN: keep the sign and the top payload bits, set the quiet bit so that
    // truncating the low payload bits cannot turn it into an infinity.
    let nan = (bits & 0x7fff_ffff) > 0x7f80_0000;
    // Otherwise adding 0x7fff plus the lowest kept bit rounds to nearest with
    // ties to even; a carry out of the significand bumps the exponent (up to
    // inf), as IEEE says. Branch-free, so that packing loops vectorize.
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1));
    let out = if nan { bits | 0x0040_0000 } else { rounded };
    (out >> 16) as u16
}

/// The `f32` whose upper half is `bits` and whose lower half is zero (exact).
#[inline(always)]
pub(crate) fn bf16_bits_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// Round an `f32` to the nearest bf16 (ties to even), returned as an `f32`
/// whose low 16 bits are zero.
///
/// NaN stays NaN (quiet), ±inf stay ±inf, values beyond bf16's max round to
/// ±inf as IEEE says. Subnormal inputs are rounded like any other value (no
/// flushing).
///
/// ```
/// use neurite_tensor::bf16::round_to_bf16;
/// assert_eq!(round_to_bf16(1.0), 1.0);
/// // 1 + 2^-8 lies half-way between 1 and 1 + 2^-7: ties go to the even one, 1.
/// assert_eq!(round_to_bf16(1.0 + 1.0 / 256.0), 1.0);
/// assert_eq!(round_to_bf16(1.0 + 3.0 / 256.0), 1.0 + 1.0 / 64.0);
/// assert!(round_to_bf16(f32::NAN).is_nan());
/// assert_eq!(round_to_bf16(f32::MAX), f32::INFINITY);
/// assert_eq!(round_to_bf16(-3.0e38).to_bits() & 0xffff, 0);
/// ```
#[inline]
pub fn round_to_bf16(x: f32) -> f32 {
    bf16_bits_to_f32(to_bf16_bits(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_even_and_carry_into_the_exponent() {
        // 1 + 2^-8 + 2^-7 is half-way between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        assert_eq!(round_to_bf16(1.0 + 3.0 / 256.0), 1.0 + 1.0 / 64.0);
        // The largest significand below 2 rounds up to 2.
        assert_eq!(round_to_bf16(f32::from_bits(0x3fff_ffff)), 2.0);
        assert_eq!(round_to_bf16(f32::NEG_INFINITY), f32::NEG_INFINITY);
        let nan = round_to_bf16(f32::from_bits(0x7f80_0001));
        assert!(nan.is_nan() && nan.to_bits() & 0x0040_0000 != 0);
    }
}
