//! The accept loop when the process runs out of file descriptors. This file
//! holds one test: it lowers the process's own RLIMIT_NOFILE, which would
//! disturb any other test sharing the process.

use std::io::Read;
use std::time::{Duration, Instant};

use havre_net::{Caps, Gate, Stopper, accept_loop};
use tokio::sync::mpsc;

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap()
}

fn set_soft_limit(limit: u64) {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut current), 0);
        current.rlim_cur = limit as libc::rlim_t;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &current), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_waiting_clients_are_told_and_closed_and_accepting_resumes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Forty clients wait in the backlog before anything is accepted; their
    // own descriptors are open before the limit drops.
    let mut clients: Vec<std::net::TcpStream> = (0..40)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    set_soft_limit(open_descriptors() + 10);

    let (_stopper, stop) = Stopper::new();
    let gate = Gate::new("test", Caps::UNLIMITED, stop);
    let (held_tx, mut held_rx) = mpsc::unbounded_channel();
    tokio::spawn(accept_loop(
        listener,
        gate,
        |_, _| "421 4.3.2 out of resources\r\n".to_string(),
        move |stream, _, ticket| {
            let _ = held_tx.send((stream, ticket));
        },
    ));

    // Every client either got a session or was told why and closed: none
    // is left hanging in the backlog.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcomes = tokio::task::spawn_blocking(move || {
        let mut refused = 0;
        for client in &mut clients {
            client
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut answer = String::new();
            match client.read_to_string(&mut answer) {
                Ok(_) if answer.starts_with("421 4.3.2") => refused += 1,
                Ok(_) => {}
                Err(_) => {} // still open: a session holds it
            }
        }
        (refused, clients)
    })
    .await
    .unwrap();
    let (refused, clients) = outcomes;
    let mut held = Vec::new();
    while let Ok(session) = held_rx.try_recv() {
        held.push(session);
    }
    assert!(
        refused > 0,
        "out of descriptors, some clients are turned away"
    );
    assert_eq!(
        held.len() + refused,
        40,
        "each client was admitted or told why"
    );

    // Descriptors come back: the loop accepts again.
    drop(held);
    drop(clients);
    let started = Instant::now();
    let _late = std::net::TcpStream::connect(addr).unwrap();
    let session = tokio::time::timeout(Duration::from_secs(5), held_rx.recv()).await;
    assert!(
        matches!(session, Ok(Some(_))),
        "a new client is accepted once descriptors are free"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
