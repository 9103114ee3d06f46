//! Every JSON example in `IPC.md` decodes with the typed protocol and re-encodes to the same
//! JSON, so the specification cannot drift from the code.

use headroom_ipc::*;
use serde_json::Value;

fn examples() -> Vec<Value> {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../IPC.md"))
        .expect("IPC.md at the repository root");
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in spec.lines() {
        match (&mut block, line.trim_start()) {
            (None, "```json") => block = Some(String::new()),
            (Some(b), "```") => {
                let text = std::mem::take(b);
                for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
                    out.push(v.unwrap_or_else(|e| panic!("bad JSON in IPC.md: {e}\n{text}")));
                }
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

#[test]
fn spec_examples_match_the_types() {
    let all = examples();
    assert!(all.len() >= 35, "found only {} examples", all.len());
    let (mut client, mut server) = (0, 0);
    for v in all {
        let text = v.to_string();
        let is_client = v.get("method").is_some()
            || (v.get("type") == Some(&Value::from("hello")) && v.get("daemon_version").is_none());
        let line = if is_client {
            client += 1;
            let f = decode_client_frame(text.as_bytes())
                .unwrap_or_else(|e| panic!("IPC.md client example {text}: {e}"));
            encode_line(&f)
        } else {
            server += 1;
            let f = decode_server_frame(text.as_bytes())
                .unwrap_or_else(|e| panic!("IPC.md server example {text}: {e}"));
            if let ServerFrame::Event(Event::Other { topic, event, .. }) = &f {
                panic!("IPC.md documents an event the types do not know: {topic}/{event}");
            }
            encode_line(&f)
        };
        let mut back: Value = serde_json::from_str(&line).unwrap();
        // Requests whose `params` were omitted or empty re-encode in canonical form (an
        // empty `params` object, or none).
        let empty = Value::Object(Default::default());
        if is_client && v.get("params").is_none_or(|p| *p == empty) {
            if let Some(o) = back.as_object_mut() {
                if o.get("params") == Some(&empty) {
                    o.remove("params");
                }
            }
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("params");
            }
            assert_eq!(back, v, "IPC.md example does not round-trip");
        } else {
            assert_eq!(back, v, "IPC.md example does not round-trip");
        }
    }
    assert!(
        client >= 15 && server >= 15,
        "{client} client / {server} server examples"
    );
}

#[test]
fn spec_event_table_matches_the_types() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../IPC.md"))
        .expect("IPC.md at the repository root");
    let mut checked = 0;
    for line in spec.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `topic` | `event` | `{json}` … |
        let [_, topic, event, data, ..] = cells.as_slice() else {
            continue;
        };
        let strip = |c: &str| {
            c.strip_prefix('`')
                .and_then(|c| c.split('`').next().map(str::to_owned))
        };
        let (Some(topic), Some(event), Some(data)) = (strip(topic), strip(event), strip(data))
        else {
            continue;
        };
        let Ok(topic) = topic.parse::<Topic>() else {
            continue;
        };
        let data: Value = match serde_json::from_str(&data) {
            Ok(v) => v,
            Err(_) => continue, // prose cell
        };
        let e = Event::from_parts(topic, &event, data.clone())
            .unwrap_or_else(|err| panic!("IPC.md {topic}/{event}: {err}"));
        assert!(
            !matches!(e, Event::Other { .. }),
            "unknown event {topic}/{event}"
        );
        let line = encode_line(&e);
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["data"], data, "{topic}/{event} does not round-trip");
        checked += 1;
    }
    assert!(checked >= 10, "checked only {checked} table rows");
}
