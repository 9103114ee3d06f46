//! `headroom analyze` and `render` end to end: the built binary on real files of every
//! supported format (made at test time with ffmpeg), the album table, what `render` writes,
//! and the safety of its output handling.

mod album;
mod basics;
mod formats;
mod progress;
mod render;
mod safety;
mod surround;
mod truepeak;
