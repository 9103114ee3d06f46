//! Hand-built PipeWire buffers for the tests of the real-time callbacks ([`super::rt`],
//! [`super::taps`]): one data plane over a test's samples, every pointer and field settable,
//! so the callbacks can be fed the hostile buffers a misbehaving graph could hand them.

use pipewire::spa::sys as spa_sys;
use pipewire::sys as pw_sys;

/// A `pw_buffer` → `spa_buffer` → one `spa_data` (with its `spa_chunk`) over `samples`.
/// Boxed, so the pointers between the parts stay valid while the test edits them.
pub(super) struct FakeBuf {
    pub pw: pw_sys::pw_buffer,
    pub buf: Box<spa_sys::spa_buffer>,
    pub data: Box<spa_sys::spa_data>,
    pub chunk: Box<spa_sys::spa_chunk>,
}

impl FakeBuf {
    /// A buffer over `samples` (interleaved stereo F32: stride 8) whose chunk says `size`
    /// bytes from `offset`.
    pub fn new(samples: &mut [f32], offset: u32, size: u32) -> Box<Self> {
        // SAFETY: plain C structs; all-zero is a valid (empty) value for each.
        let mut fb = Box::new(unsafe {
            FakeBuf {
                pw: std::mem::zeroed(),
                buf: Box::new(std::mem::zeroed()),
                data: Box::new(std::mem::zeroed()),
                chunk: Box::new(std::mem::zeroed()),
            }
        });
        fb.chunk.offset = offset;
        fb.chunk.size = size;
        fb.chunk.stride = 8;
        fb.data.maxsize = std::mem::size_of_val(samples) as u32;
        fb.data.data = samples.as_mut_ptr().cast();
        fb.data.chunk = &mut *fb.chunk;
        fb.buf.n_datas = 1;
        fb.buf.datas = &mut *fb.data;
        fb.pw.buffer = &mut *fb.buf;
        fb
    }

    /// The `spa_buffer`.
    pub fn spa(&self) -> *const spa_sys::spa_buffer {
        &*self.buf
    }
}
