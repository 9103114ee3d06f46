//! `headroomd`: the headroom daemon binary.

fn main() -> anyhow::Result<()> {
    headroomd::run(headroomd::DaemonConfig::default())
}
