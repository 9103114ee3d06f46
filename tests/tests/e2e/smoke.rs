//! The sandbox works end to end: what `pw-play` plays into the null sink is what `pw-record`
//! captures from its monitor, at the same level.

use headroom_tests::{sine, Sandbox, DEFAULT_SINK};

#[test]
fn played_sine_is_captured_at_the_same_level() {
    let sb = Sandbox::start().expect("sandbox");
    let src = sine(1000.0, -20.0, 2.0);
    let wav = sb.path("sine.wav");
    src.write(&wav).unwrap();

    let rec = sb.record(DEFAULT_SINK, &sb.path("capture.wav")).unwrap();
    sb.play(&wav, DEFAULT_SINK, &["application.name=smoke"])
        .unwrap();
    let cap = rec.stop().unwrap();

    assert_eq!(cap.channels, 2);
    let (a, b) = cap
        .active_range(1e-3)
        .expect("the capture holds no signal: nothing was played into the sink");
    let active = b - a;
    assert!(
        active as f64 > 0.9 * src.frames() as f64,
        "captured only {active} frames of signal, played {}",
        src.frames()
    );
    // Skip the edges (fade in/out of stream start and stop).
    let body = cap.slice(a + 4800, b - 4800);
    let want = src.rms_db();
    let got = body.rms_db();
    assert!(
        (got - want).abs() <= 0.5,
        "captured RMS {got:.2} dBFS, played {want:.2} dBFS"
    );
}
