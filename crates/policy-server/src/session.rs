//! One connection from a Postfix: requests answered in order until the
//! client leaves, stays idle too long, takes too long over a request, or the
//! node stops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use havre_net::{Conn, ConnError, Peer, Ticket, guard_command};
use havre_policy_proto::{Decoder, Frame, Reply};
use tokio::net::TcpStream;

use crate::Server;
use crate::service::{SERVICE_ERROR, answer};

/// Replies queued beyond this are sent before the next request is read.
const FLUSH_AT: usize = 16 * 1024;

/// Serves one connection; the ticket (its place under the connection cap)
/// is given back when it ends.
pub async fn session(stream: TcpStream, peer: SocketAddr, ticket: Ticket, server: Arc<Server>) {
    let host = peer.ip();
    let first = server.services.borrow().clone();
    let mut conn =
        Conn::new(Box::new(stream), first.settings.idle_timeout).with_stop(ticket.stop());
    let mut decoder = Decoder::new(first.settings.limits);
    drop(first);
    let client = peer.to_string();
    // The message this connection last asked about (Postfix's `instance`).
    let mut current: Option<String> = None;
    // Reply bytes queued and not flushed yet.
    let mut queued = 0usize;
    let ended = loop {
        let idle = server.services.borrow().settings.idle_timeout;
        conn.set_timeout(idle);
        conn.set_deadline(None);
        if let Err(e) = conn.wait_command().await {
            break e;
        }
        // The services of the moment the request comes: a reload applies
        // to the next request, even on a connection opened before it.
        let services = server.services.borrow().clone();
        // A request has begun: it must be complete within the time limit,
        // however slowly its bytes come.
        conn.set_deadline(Some(Instant::now() + services.settings.request_timeout));
        let frame = loop {
            let (taken, frame) = decoder.decode(conn.buffered());
            conn.consume(taken);
            if let Some(frame) = frame {
                break Ok(frame);
            }
            if let Err(e) = conn.fill().await {
                break Err(e);
            }
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => break e,
        };
        let peer_info = Peer {
            role: "policy",
            client: &client,
        };
        let reply = guard_command(&mut conn, peer_info, b"", async |_conn: &mut Conn| match frame {
            Frame::Invalid(e) => {
                tracing::warn!(target: "policy", role = "policy", "bad request from {client}: {e}");
                Reply::DeferIfPermit(SERVICE_ERROR.into())
            }
            Frame::Request(request) => {
                let instance = request.non_empty("instance");
                if let Some(done) = current.as_deref()
                    && Some(done) != instance
                {
                    server.instances.forget(host, done);
                }
                current = instance.map(str::to_owned);
                answer(&services, &server.instances, host, &request).await
            }
        })
        .await;
        // A panic was logged and the connection closed: Postfix retries.
        let Some(reply) = reply else { return };
        let bytes = reply.encode();
        queued += bytes.len();
        conn.queue(&bytes);
        // Replies to requests sent ahead go out together, a few KiB at a
        // time: a client that sends without reading holds no more.
        if !conn.has_buffered() || queued >= FLUSH_AT {
            queued = 0;
            if let Err(e) = conn.flush().await {
                break e;
            }
        }
    };
    if let Some(done) = current {
        server.instances.forget(host, &done);
    }
    match ended {
        ConnError::Closed | ConnError::Stopping => {}
        ConnError::Timeout if !decoder.in_request() => {
            tracing::info!(target: "policy", role = "policy", "{client}: idle for {}, closed", humane(server.services.borrow().settings.idle_timeout));
        }
        ConnError::Timeout | ConnError::Deadline => {
            tracing::warn!(target: "policy", role = "policy", "{client}: request not finished in time, closed");
        }
        ConnError::Io(e) => {
            tracing::info!(target: "policy", role = "policy", "{client}: {e}");
        }
    }
    conn.shutdown().await;
}

fn humane(d: std::time::Duration) -> String {
    format!("{} s", d.as_secs_f64())
}
