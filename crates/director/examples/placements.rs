//! Assignment decisions per second (bench/director): `placements REDIS_URL
//! PREFIX USERS CONCURRENCY SECONDS`. Three backends are added under
//! PREFIX, then CONCURRENCY tasks place users drawn from USERS names for
//! SECONDS, as logins do (`assign::place`: the user's claim in Redis, the
//! ring when she has no assignment). Prints the decisions per second, and
//! the ring's own picks per second (no Redis).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use havre_director::assign;
use havre_director::backends::{self, Admin};
use havre_director::view::{View, Views};
use havre_state::{RedisState, State};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, prefix, users, concurrency, seconds] = &args[..] else {
        eprintln!("usage: placements REDIS_URL PREFIX USERS CONCURRENCY SECONDS");
        std::process::exit(2);
    };
    let users: u64 = users.parse().expect("USERS");
    let concurrency: usize = concurrency.parse().expect("CONCURRENCY");
    let seconds: u64 = seconds.parse().expect("SECONDS");
    let state: Arc<dyn State> = Arc::new(RedisState::connect(url, prefix).await.expect("redis"));
    for address in ["10.0.0.2", "10.0.0.3", "10.0.0.4"] {
        backends::put(&*state, address, backends::DEFAULT_WEIGHT, Admin::Up)
            .await
            .unwrap();
    }
    let view = Arc::new(View::new(backends::list(&*state).await.unwrap()));
    // What logins place users with: the view kept, read again every second.
    let views = Arc::new(Views::new(state.clone()));

    let started = Instant::now();
    let mut picks = 0u64;
    while started.elapsed() < Duration::from_secs(1) {
        for n in 0..1000 {
            std::hint::black_box(view.ring.pick(&format!("user{n}@univ.example")));
        }
        picks += 1000;
    }
    println!(
        "ring picks/s: {:.0}",
        picks as f64 / started.elapsed().as_secs_f64()
    );

    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let (state, views, done) = (state.clone(), views.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = t as u64;
                while Instant::now() < deadline {
                    let user = format!("user{}@univ.example", n % users);
                    // A minute, not the default 15: the keys go soon from
                    // a Redis the tests share.
                    assign::place(&*state, &views, &user, Duration::from_secs(60))
                        .await
                        .expect("placed");
                    done.fetch_add(1, Ordering::Relaxed);
                    n += concurrency as u64;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let decisions = done.load(Ordering::Relaxed);
    println!(
        "decisions/s: {:.0} ({decisions} in {:.1} s, {concurrency} at once, {users} users)",
        decisions as f64 / started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
