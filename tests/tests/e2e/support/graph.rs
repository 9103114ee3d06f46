//! Reading the sandbox's graph the way a user's tools would (`pw-dump`, `wpctl`): streams,
//! what they play into, their volumes, headroom's taps.

use anyhow::Result;
use headroom_tests::Sandbox;

/// `pw-dump` objects of `type` (e.g. `"PipeWire:Interface:Link"`).
pub fn objects(sb: &Sandbox, ty: &str) -> Result<Vec<serde_json::Value>> {
    Ok(sb.dump()?.into_iter().filter(|o| o["type"] == ty).collect())
}

/// Id of the playback stream with `application.name == app`.
pub fn stream_id(sb: &Sandbox, app: &str) -> Result<Option<u32>> {
    Ok(objects(sb, "PipeWire:Interface:Node")?
        .iter()
        .find_map(|o| {
            (o["info"]["props"]["application.name"] == app
                && o["info"]["props"]["media.class"] == "Stream/Output/Audio")
                .then(|| o["id"].as_u64().map(|v| v as u32))
                .flatten()
        }))
}

/// Names of the nodes `id` plays into (headroom's taps excluded).
pub fn plays_into(sb: &Sandbox, id: u32) -> Result<Vec<String>> {
    let mut v = headroom_tests::daemon::link_targets(sb, id)?;
    v.retain(|n| !n.starts_with("headroom-tap-"));
    Ok(v)
}

/// A number from node `id`'s Props param: `key` (an array's first entry), linear.
fn props_number(sb: &Sandbox, id: u32, key: &str) -> Result<Option<f64>> {
    let nodes = objects(sb, "PipeWire:Interface:Node")?;
    let Some(n) = nodes.iter().find(|o| o["id"].as_u64() == Some(id as u64)) else {
        return Ok(None);
    };
    Ok(n["info"]["params"]["Props"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|p| {
            let v = &p[key];
            v.as_f64().or_else(|| v[0].as_f64())
        }))
}

/// The master `volume` of node `id` (the one Layer A sets), linear.
pub fn stream_volume(sb: &Sandbox, id: u32) -> Result<Option<f64>> {
    props_number(sb, id, "volume")
}

/// The first `channelVolumes` entry of node `id` (the volume a user sets in a mixer), linear.
pub fn user_volume(sb: &Sandbox, id: u32) -> Result<Option<f64>> {
    props_number(sb, id, "channelVolumes")
}

/// Sets node `id`'s volume the way a user does in a mixer (`wpctl set-volume`, cubic scale).
pub fn set_user_volume(sb: &Sandbox, id: u32, wpctl_volume: f64) -> Result<()> {
    let st = sb
        .command("wpctl")
        .args(["set-volume", &id.to_string(), &format!("{wpctl_volume}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(st.success(), "wpctl set-volume failed: {st}");
    Ok(())
}

/// Nodes whose name starts with `headroom-tap-`.
pub fn tap_nodes(sb: &Sandbox) -> Result<usize> {
    Ok(objects(sb, "PipeWire:Interface:Node")?
        .iter()
        .filter(|o| {
            o["info"]["props"]["node.name"]
                .as_str()
                .is_some_and(|n| n.starts_with("headroom-tap-"))
        })
        .count())
}
