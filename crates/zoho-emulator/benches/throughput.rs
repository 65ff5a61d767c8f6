//! Requests per second the emulator serves on loopback (run with
//! `cargo bench -p zoho-emulator --bench throughput`).
//!
//! The emulator must never be the bottleneck of the engine's own benchmarks. This harness
//! starts it on its own runtime, opens keep-alive connections from a second runtime with a
//! minimal HTTP/1.1 client (so the load generator costs as little as possible), and prints
//! requests per second and mean latency for a few representative calls. Both share this
//! machine's cores, so the figures are a floor.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, net::TcpStream};
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

const CONNECTIONS: usize = 32;
const SECONDS: u64 = 5;

mod support;

use support::{read_response, request};

/// One request, pre-rendered.
struct Call {
    name: &'static str,
    raw: Vec<u8>,
}

async fn load(addr: std::net::SocketAddr, call: Arc<Call>) {
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (done, count, errors, call) = (done.clone(), count.clone(), errors.clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let mut buf = Vec::with_capacity(64 * 1024);
            while !done.load(Ordering::Relaxed) {
                if stream.write_all(&call.raw).await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                match read_response(&mut stream, &mut buf).await {
                    Ok((s, _)) if s < 300 => count.fetch_add(1, Ordering::Relaxed),
                    Ok(_) => errors.fetch_add(1, Ordering::Relaxed),
                    Err(_) => return,
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = count.load(Ordering::Relaxed);
    println!(
        "{:<34} {:>9.0} req/s   mean latency {:>7.3} ms   ({} ok, {} errors, {} connections, {:.1} s)",
        call.name,
        n as f64 / secs,
        secs * 1000.0 * CONNECTIONS as f64 / n.max(1) as f64,
        n,
        errors.load(Ordering::Relaxed),
        CONNECTIONS,
        secs
    );
}

fn main() {
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emu = server_rt.block_on(async {
        let config = EmulatorConfig { seed_data: true, ..EmulatorConfig::unlimited() };
        Emulator::start(config, 0).await.expect("emulator starts")
    });
    let addr = emu.addr();
    let base = emu.url();
    client_rt.block_on(async move {
        let http = reqwest::Client::new();
        let (creds, token) = testkit::login(&http, &base).await.expect("login");
        let org = creds.organization_id.clone();
        let auth = testkit::auth_header(&token);
        // A customer to invoice.
        let contact: Value = http
            .post(format!("{base}/books/v3/contacts?organization_id={org}"))
            .header("Authorization", &auth)
            .json(&json!({"contact_name": "Bench Customer Ltd"}))
            .send()
            .await
            .expect("create contact")
            .json()
            .await
            .expect("contact json");
        let customer_id = contact["contact"]["contact_id"].as_str().unwrap_or_default().to_string();
        let deal_list: Value = http
            .get(format!("{base}/crm/v8/Deals?fields=Deal_Name&per_page=1"))
            .header("Authorization", &auth)
            .send()
            .await
            .expect("list deals")
            .json()
            .await
            .unwrap_or(Value::Null);
        let deal_id = deal_list["data"][0]["id"].as_str().unwrap_or("0").to_string();
        let invoice = json!({
            "customer_id": customer_id,
            "line_items": [{"name": "Consulting", "rate": 120.5, "quantity": 3, "discount": "10%"}],
        });
        let calls = [
            Call { name: "CRM get record by id", raw: request("GET", &format!("/crm/v8/Deals/{deal_id}"), &token, None) },
            Call { name: "CRM list (10 records, 3 fields)", raw: request("GET", "/crm/v8/Deals?fields=Deal_Name,Stage,Amount&per_page=10", &token, None) },
            Call { name: "CRM list (200 records, 3 fields)", raw: request("GET", "/crm/v8/Deals?fields=Deal_Name,Stage,Amount&per_page=200", &token, None) },
            Call { name: "Books invoice create", raw: request("POST", &format!("/books/v3/invoices?organization_id={org}"), &token, Some(&invoice)) },
        ];
        println!("emulator throughput on loopback ({} connections, {} s per call)", CONNECTIONS, SECONDS);
        for call in calls {
            load(addr, Arc::new(call)).await;
        }
    });
    drop(emu);
}
