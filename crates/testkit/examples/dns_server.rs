//! The tests' DNS server as a program, for the benchmarks' shell scripts:
//! `dns_server ORIGIN ZONE_FILE` serves the zone on a free loopback port,
//! prints `ADDRESS:PORT` on its first line, and runs until killed.

use havre_testkit::dns::TestDns;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, origin, path] = args.as_slice() else {
        anyhow::bail!("usage: dns_server ORIGIN ZONE_FILE");
    };
    let zone = std::fs::read_to_string(path)?;
    let dns = TestDns::start(origin, &zone).await?;
    println!("{}", dns.addr());
    // Keep serving: the caller kills the process when it is done.
    std::future::pending::<()>().await;
    drop(dns);
    Ok(())
}
