//! `zoho-bridge demo`: placeholder until the CRM and Books emulators land.

pub async fn run(_port: u16, _seed: u64, _exit: bool) -> anyhow::Result<()> {
    anyhow::bail!("the demo walk-through is not written yet")
}
