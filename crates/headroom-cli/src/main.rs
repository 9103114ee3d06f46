//! `headroom`: the headroom command line.

fn main() {
    println!("headroom {}", env!("CARGO_PKG_VERSION"));
}
