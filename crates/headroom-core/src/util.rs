//! Small numeric helpers shared by the stages.

/// Converts decibels to a linear gain factor.
#[inline]
pub fn db_to_lin(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Converts a linear gain factor to decibels (−inf for 0).
#[inline]
pub fn lin_to_db(lin: f32) -> f32 {
    20.0 * lin.log10()
}
