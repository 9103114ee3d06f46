//! Answers that grow with the daemon's state stay within the frame limit: `history` and
//! `route.list` are paged (and followed transparently by the client), the routing snapshot is
//! split, rule patterns and the number of rules are capped, client numbers never overflow.

use std::time::Duration;

use headroom_client::Client;
use headroom_ipc::{
    encode_line, DaemonState, ErrorCode, Request, Response, Route, ServerFrame, Topic,
    HISTORY_PAGE_SAMPLES, MAX_NAME_BYTES, MAX_PATTERN_BYTES, MAX_SERVER_FRAME_BYTES,
    MAX_USER_RULES,
};
use headroomd::history::{now_unix_ms, History, HistoryConfig, Sample};
use headroomd::DaemonConfig;

use crate::support::rig::Rig;
use crate::support::serve::{serve, Served};

const STREAMS: u32 = 1000;
const SAMPLES: u64 = 20_000;

fn frame_len(id: u64, result: Response) -> usize {
    encode_line(&ServerFrame::Response {
        id,
        result,
        warning: None,
    })
    .len()
}

/// A history holding [`SAMPLES`] samples (one a second, ending now), most of them spilled to
/// `dir`.
fn long_history(dir: &std::path::Path) -> History {
    let mut h = History::new(&HistoryConfig {
        dir: Some(dir.to_path_buf()),
        ..HistoryConfig::default()
    })
    .unwrap();
    let start = now_unix_ms() - SAMPLES * 1000;
    for i in 0..SAMPLES {
        h.record(Sample {
            unix_ms: start + i * 1000,
            in_short_term_lufs: -23.456_789,
            out_short_term_lufs: -18.123_456,
            agc_gain_db: 6.543_21,
            compressor_gr_db: 1.234_567,
            limiter_gr_db: 0.123_456,
            dsp_mean_us: 123.456_78,
            dsp_max_us: 4567.891,
            spikes: u64::MAX / 3,
            xruns: u64::MAX / 5,
            ..Sample::default()
        })
        .unwrap();
    }
    h
}

/// A rig with a long history and [`STREAMS`] streams whose names are as long as the wire
/// allows (and longer: they are cut).
fn crowded_rig(history_dir: &std::path::Path) -> Rig {
    let mut rig = Rig::with_history(DaemonConfig::default(), long_history(history_dir));
    rig.bus_up();
    let long = "x".repeat(MAX_NAME_BYTES + 1000);
    for i in 0..STREAMS {
        let app = format!("{i:05}{long}");
        rig.node_added(
            1000 + i,
            "Stream/Output/Audio",
            &[
                ("application.name", app.as_str()),
                ("application.process.binary", long.as_str()),
                ("media.name", long.as_str()),
            ],
        );
    }
    rig
}

#[test]
fn history_and_route_list_pages_stay_under_the_frame_limit() {
    let spill = tempfile::tempdir().unwrap();
    let mut rig = crowded_rig(spill.path());

    // history: pages of at most HISTORY_PAGE_SAMPLES, each frame under the limit, together
    // every sample once, in order.
    let (mut got, mut from, mut pages) = (Vec::new(), None, 0);
    loop {
        let (_, r) = rig.request(Request::History {
            since_secs: None,
            from_unix_ms: from,
        });
        let Ok(Response::History(h)) = r else {
            panic!("{r:?}")
        };
        assert!(h.samples.len() <= HISTORY_PAGE_SAMPLES);
        let len = frame_len(1, Response::History(h.clone()));
        assert!(len <= MAX_SERVER_FRAME_BYTES, "history page of {len} bytes");
        got.extend(h.samples.iter().map(|s| s.unix_ms));
        pages += 1;
        match h.next_unix_ms {
            Some(n) => from = Some(n),
            None => break,
        }
        assert!(pages < 100, "paging does not end");
    }
    assert!(pages > 1);
    assert_eq!(got.len() as u64, SAMPLES);
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "out of order or repeated"
    );

    // route.list: pages under the limit, every stream once, names cut to MAX_NAME_BYTES.
    let (mut ids, mut cursor, mut first) = (Vec::new(), None, true);
    loop {
        let (_, r) = rig.request(Request::RouteList { cursor });
        let Ok(Response::Routes(page)) = r else {
            panic!("{r:?}")
        };
        let len = frame_len(1, Response::Routes(page.clone()));
        assert!(
            len <= MAX_SERVER_FRAME_BYTES,
            "route.list page of {len} bytes"
        );
        assert_eq!(first, cursor.is_none());
        first = false;
        for s in &page.streams {
            assert_eq!(s.app.len(), MAX_NAME_BYTES);
            assert_eq!(s.binary.as_deref().map(str::len), Some(MAX_NAME_BYTES));
            ids.push(s.node_id);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(ids, (1000..1000 + STREAMS).collect::<Vec<_>>());
}

#[test]
fn the_client_follows_the_pages_and_the_routing_snapshot_is_split() {
    let spill = tempfile::tempdir().unwrap();
    let Served {
        run,
        mut server,
        socket: path,
    } = serve(crowded_rig(spill.path()));
    let mut c = Client::connect_to(&path).unwrap();
    c.set_timeout(Some(Duration::from_secs(30))).unwrap();
    let routes = c.route_list().unwrap();
    assert_eq!(routes.streams.len(), STREAMS as usize);
    assert_eq!(routes.next_cursor, None);
    // The engine records a sample a second on its own as well.
    let h = c.history(None).unwrap();
    assert!(h.samples.len() as u64 >= SAMPLES, "{}", h.samples.len());
    assert!(h.samples.windows(2).all(|w| w[0].unix_ms < w[1].unix_ms));
    assert_eq!(h.next_unix_ms, None);
    // A bound past every sample, and one so far back it would overflow.
    assert!(c.history(Some(0)).unwrap().samples.len() <= 2);
    assert!(c.history(Some(u64::MAX)).unwrap().samples.len() as u64 >= SAMPLES);

    // The routing snapshot: what fits one frame, the other streams as deltas; folded, all.
    let mut sub = Client::connect_to(&path)
        .unwrap()
        .subscribe(&[Topic::Routing])
        .unwrap();
    sub.set_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut state = DaemonState::new();
    while state.streams.len() < STREAMS as usize {
        let ev = sub
            .next()
            .expect("the subscription ended")
            .expect("an event");
        state.apply(&ev);
    }
    assert_eq!(state.streams.len(), STREAMS as usize);

    server.shutdown();
    run.engine.stop("test over");
}

#[test]
fn history_takes_any_since_secs() {
    let mut rig = Rig::new(DaemonConfig::default());
    for since_secs in [Some(u64::MAX), Some(u64::MAX / 1000 + 1), Some(0), None] {
        let (_, r) = rig.request(Request::History {
            since_secs,
            from_unix_ms: None,
        });
        assert!(
            matches!(r, Ok(Response::History(_))),
            "{since_secs:?}: {r:?}"
        );
    }
    let (_, r) = rig.request(Request::History {
        since_secs: Some(u64::MAX),
        from_unix_ms: Some(u64::MAX),
    });
    let Ok(Response::History(h)) = r else {
        panic!("{r:?}")
    };
    assert!(h.samples.is_empty());
}

#[test]
fn rule_patterns_and_rule_count_are_capped() {
    let mut rig = Rig::new(DaemonConfig::default());
    rig.bus_up();
    let long = "a".repeat(MAX_PATTERN_BYTES + 1);
    let (_, r) = rig.request(Request::RouteSet {
        app: long.clone(),
        route: Route::Bypass,
    });
    let e = r.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    assert!(e.message.contains("256"), "{}", e.message);
    // Also on the wire, before the engine.
    let frame =
        format!(r#"{{"id":1,"method":"route.set","params":{{"app":"{long}","route":"bypass"}}}}"#);
    let err = headroom_ipc::decode_client_frame(frame.as_bytes()).unwrap_err();
    assert_eq!(err.error.code, ErrorCode::InvalidParams);

    for i in 0..MAX_USER_RULES {
        let (_, r) = rig.request(Request::RouteSet {
            app: format!("app-{i}"),
            route: Route::Bypass,
        });
        assert_eq!(r, Ok(Response::Ok), "rule {i}");
    }
    let (_, r) = rig.request(Request::RouteSet {
        app: "one-too-many".into(),
        route: Route::Bypass,
    });
    let e = r.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParams);
    assert!(e.message.contains("route.unset"), "{}", e.message);
    // Replacing a rule is still possible; the refused one is nowhere.
    let (_, r) = rig.request(Request::RouteSet {
        app: "APP-0".into(),
        route: Route::Processed,
    });
    assert_eq!(r, Ok(Response::Ok));
    let (_, r) = rig.request(Request::RouteList { cursor: None });
    let Ok(Response::Routes(routes)) = r else {
        panic!("{r:?}")
    };
    assert!(routes.rules.iter().all(|r| r.app != "one-too-many"));
    assert_eq!(
        routes
            .rules
            .iter()
            .filter(|r| r.source == headroom_ipc::RuleSource::User)
            .count(),
        MAX_USER_RULES
    );
}

/// Profiles whose descriptions are as long as a profile file allows: `profile.list` (and
/// the `profile` snapshot, built from it) cuts each description to [`MAX_NAME_BYTES`] and
/// stays under the frame limit; `profile.show` gives the whole of one.
#[test]
fn profile_list_cuts_long_descriptions_and_fits_a_frame() {
    let mut rig = Rig::new(DaemonConfig::default());
    let long = "d".repeat(900_000);
    for i in 0..6 {
        std::fs::write(
            rig.config.join(format!("profiles/big{i}.toml")),
            format!("description = \"{long}\"\n"),
        )
        .unwrap();
    }
    let (_, r) = rig.request(Request::ProfileList);
    let Ok(Response::ProfileList(list)) = r else {
        panic!("{r:?}")
    };
    let frame = serde_json::to_string(&Response::ProfileList(list.clone())).unwrap();
    assert!(
        frame.len() <= MAX_SERVER_FRAME_BYTES,
        "{} bytes",
        frame.len()
    );
    let bigs: Vec<_> = list
        .profiles
        .iter()
        .filter(|p| p.name.starts_with("big"))
        .collect();
    assert_eq!(bigs.len(), 6);
    assert!(bigs
        .iter()
        .all(|p| p.description.len() == MAX_NAME_BYTES && p.error.is_none()));
    let (_, r) = rig.request(Request::ProfileShow {
        name: Some("big0".into()),
    });
    let Ok(Response::ProfileShow(show)) = r else {
        panic!("{r:?}")
    };
    assert!(show.toml.len() > 900_000 && show.error.is_none());
}
