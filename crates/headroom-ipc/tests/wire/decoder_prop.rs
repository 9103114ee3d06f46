//! Property tests: random byte streams, split into random reads, fed to the decoder never
//! panic and never make it buffer more than its limit; valid frames survive any split.

use headroom_ipc::*;
use proptest::prelude::*;

const SMALL_LIMIT: usize = 64;

/// Feeds `data` to `dec` in pieces cut at `cuts`, decoding every frame both ways.
fn feed(dec: &mut LineDecoder, data: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, usize) {
    let mut frames = Vec::new();
    let mut too_large = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    for w in points.windows(2) {
        let mut chunk = &data[w[0]..w[1]];
        while let Some(item) = dec.next_frame(&mut chunk) {
            match item {
                Ok(frame) => {
                    assert!(frame.len() <= dec.limit());
                    assert!(!frame.contains(&b'\n'));
                    let _ = decode_client_frame(&frame);
                    let _ = decode_server_frame(&frame);
                    frames.push(frame);
                }
                Err(FrameTooLarge { limit }) => {
                    assert_eq!(limit, dec.limit());
                    too_large += 1;
                }
            }
            assert!(
                dec.buffered() <= dec.limit() + 1,
                "held more than a frame and its \\r"
            );
        }
        assert!(
            chunk.is_empty(),
            "decoder returned None before using its input"
        );
        assert!(
            dec.buffered() <= dec.limit() + 1,
            "held more than a frame and its \\r"
        );
    }
    (frames, too_large)
}

fn valid_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..1000).prop_map(|id| format!(r#"{{"id":{id},"method":"status"}}"#)),
        (
            proptest::sample::select(vec!["agc.target_lufs", "a", "limiter.enabled"]),
            -100i64..100
        )
            .prop_map(|(k, v)| format!(
                r#"{{"id":2,"method":"setting.set","params":{{"key":"{k}","value":{v}}}}}"#
            )),
        Just(r#"{"type":"hello","protocol_version":1}"#.to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut dec = LineDecoder::new(SMALL_LIMIT);
        feed(&mut dec, &data, &cuts);
        let mut dec = LineDecoder::new(MAX_FRAME_BYTES);
        feed(&mut dec, &data, &cuts);
    }

    #[test]
    fn mostly_json_bytes_never_panic(
        raw in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        // Mostly JSON punctuation, digits and newlines, some arbitrary bytes.
        const ALPHABET: &[u8] = b"{}[]\":,\n1-e.ntr ";
        let data: Vec<u8> = raw
            .iter()
            .map(|&b| ALPHABET.get(usize::from(b) % 20).copied().unwrap_or(b))
            .collect();
        let mut dec = LineDecoder::new(SMALL_LIMIT);
        feed(&mut dec, &data, &cuts);
    }

    #[test]
    fn valid_frames_survive_any_split(
        lines in proptest::collection::vec(valid_line(), 1..20),
        cuts in proptest::collection::vec(any::<usize>(), 0..32),
    ) {
        let data = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let mut dec = LineDecoder::new(MAX_FRAME_BYTES);
        let (frames, too_large) = feed(&mut dec, data.as_bytes(), &cuts);
        prop_assert_eq!(too_large, 0);
        prop_assert_eq!(frames.len(), lines.len());
        for (f, l) in frames.iter().zip(&lines) {
            prop_assert_eq!(f.as_slice(), l.as_bytes());
            prop_assert!(decode_client_frame(f).is_ok());
        }
    }

    #[test]
    fn oversized_frame_reported_once_and_next_frame_survives(
        len in (SMALL_LIMIT + 1)..2000,
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut data = vec![b'x'; len];
        data.extend_from_slice(b"\n{\"id\":1,\"method\":\"status\"}\n");
        let mut dec = LineDecoder::new(SMALL_LIMIT);
        let (frames, too_large) = feed(&mut dec, &data, &cuts);
        prop_assert_eq!(too_large, 1);
        prop_assert_eq!(frames.len(), 1);
    }
}

/// A frame of exactly the limit is accepted with a `\r\n` ending too (the `\r` does not count,
/// IPC.md), however the bytes arrive; one byte more is not.
#[test]
fn frame_at_exact_limit_with_crlf_is_accepted() {
    for limit in [SMALL_LIMIT, MAX_FRAME_BYTES] {
        let mut data = vec![b' '; limit - 2];
        data.insert(0, b'{');
        data.push(b'}');
        data.extend_from_slice(b"\r\n");
        for cut in [0, 1, limit - 1, limit, limit + 1] {
            let mut dec = LineDecoder::new(limit);
            let (frames, too_large) = feed(&mut dec, &data, &[cut]);
            assert_eq!(
                (frames.len(), too_large),
                (1, 0),
                "limit {limit}, cut {cut}"
            );
            assert_eq!(frames[0].len(), limit);
        }
        let mut over = vec![b'a'; limit + 1];
        over.extend_from_slice(b"\r\n");
        for cut in [0, limit, limit + 1, limit + 2] {
            let mut dec = LineDecoder::new(limit);
            let (frames, too_large) = feed(&mut dec, &over, &[cut]);
            assert_eq!(
                (frames.len(), too_large),
                (0, 1),
                "limit {limit}, cut {cut}"
            );
        }
    }
}

#[test]
fn frame_at_exact_limit_is_accepted() {
    let mut data = vec![b' '; SMALL_LIMIT - 2];
    data.insert(0, b'{');
    data.push(b'}');
    assert_eq!(data.len(), SMALL_LIMIT);
    data.push(b'\n');
    let mut dec = LineDecoder::new(SMALL_LIMIT);
    let (frames, too_large) = feed(&mut dec, &data, &[]);
    assert_eq!((frames.len(), too_large), (1, 0));
    let mut over = vec![b'a'; SMALL_LIMIT + 1];
    over.push(b'\n');
    let (frames, too_large) = feed(&mut dec, &over, &[3]);
    assert_eq!((frames.len(), too_large), (0, 1));
}
