//! `havre cluster status`: the nodes sharing this node's store, as their
//! heartbeats describe them, with each one's queue.

use std::path::PathBuf;

use chrono::{Local, TimeZone};
use havre_store::{NodeStatus, QueueSummary};
use serde::Serialize;

use crate::cli::ClusterCommand;
use crate::heartbeat::MISSED_AFTER;
use crate::locate;
use crate::output::{self, Report};

pub(crate) async fn run(config: Option<PathBuf>, cmd: ClusterCommand) -> anyhow::Result<()> {
    let ClusterCommand::Status { format } = cmd;
    let loaded = locate::load(config)?;
    crate::logging::init_cli(&loaded);
    crate::privileges::become_server_user(&loaded)?;
    let store = locate::open_store(&loaded).await?;
    let nodes = store.nodes().await?;
    let queues = store.queue_summary_by_node().await?;
    let status = Status::of(nodes, queues, chrono::Utc::now().timestamp());
    output::print(&status, format.json)?;
    let silent: Vec<String> = status
        .nodes
        .iter()
        .filter(|node| !node.answering)
        .map(|node| node.id.to_string())
        .collect();
    if !silent.is_empty() {
        anyhow::bail!(
            "node(s) {} not answering: no heartbeat for more than {} seconds",
            silent.join(", "),
            MISSED_AFTER.as_secs()
        );
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(transparent)]
struct Status {
    nodes: Vec<Node>,
}

#[derive(Serialize)]
struct Node {
    id: u8,
    hostname: String,
    roles: Vec<String>,
    listening: String,
    version: String,
    started_at: i64,
    heartbeat: i64,
    /// Its last heartbeat is recent (within three beats).
    answering: bool,
    queue: Queue,
}

#[derive(Serialize, Default)]
struct Queue {
    active: u64,
    deferred: u64,
    hold: u64,
    bytes: u64,
}

impl From<&QueueSummary> for Queue {
    fn from(summary: &QueueSummary) -> Queue {
        Queue {
            active: summary.new,
            deferred: summary.deferred,
            hold: summary.hold,
            bytes: summary.bytes,
        }
    }
}

impl Status {
    /// Every node with a heartbeat, and a node that has queue records but
    /// never wrote one (its id changed, say) so its mail is not forgotten.
    fn of(nodes: Vec<NodeStatus>, queues: Vec<(u8, QueueSummary)>, now: i64) -> Status {
        let queue_of = |id: u8| {
            queues
                .iter()
                .find(|(node, _)| *node == id)
                .map(|(_, summary)| Queue::from(summary))
                .unwrap_or_default()
        };
        let mut listed: Vec<Node> = nodes
            .into_iter()
            .map(|node| Node {
                answering: now - node.heartbeat <= MISSED_AFTER.as_secs() as i64,
                queue: queue_of(node.id),
                id: node.id,
                hostname: node.hostname,
                roles: node.roles,
                listening: node.address,
                version: node.version,
                started_at: node.started_at,
                heartbeat: node.heartbeat,
            })
            .collect();
        for (id, summary) in &queues {
            if !listed.iter().any(|node| node.id == *id) {
                listed.push(Node {
                    id: *id,
                    hostname: String::new(),
                    roles: Vec::new(),
                    listening: String::new(),
                    version: String::new(),
                    started_at: 0,
                    heartbeat: 0,
                    answering: false,
                    queue: Queue::from(summary),
                });
            }
        }
        listed.sort_by_key(|node| node.id);
        Status { nodes: listed }
    }
}

fn local_time(unix: i64) -> String {
    match Local.timestamp_opt(unix, 0).single() {
        Some(time) if unix > 0 => time.format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => "never".into(),
    }
}

impl Report for Status {
    fn text(&self) -> String {
        use std::fmt::Write;
        if self.nodes.is_empty() {
            return "No node has written a heartbeat yet (is havre serve running?)\n".into();
        }
        let now = chrono::Utc::now().timestamp();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<4} {:<24} {:<34} {:<22} QUEUE (active/deferred/hold)",
            "NODE", "HOST", "ROLES", "LAST HEARTBEAT"
        );
        for node in &self.nodes {
            let heartbeat = if node.heartbeat == 0 {
                "never".to_string()
            } else if node.answering {
                format!("{}s ago", (now - node.heartbeat).max(0))
            } else {
                format!("{} not answering", local_time(node.heartbeat))
            };
            let _ = writeln!(
                out,
                "{:<4} {:<24} {:<34} {:<22} {}/{}/{} ({} KB)",
                node.id,
                node.hostname,
                node.roles.join(","),
                heartbeat,
                node.queue.active,
                node.queue.deferred,
                node.queue.hold,
                node.queue.bytes.div_ceil(1024)
            );
            if !node.listening.is_empty() {
                let _ = writeln!(out, "     listening: {}", node.listening);
            }
            if node.started_at > 0 {
                let _ = writeln!(
                    out,
                    "     havre {}, started {}",
                    node.version,
                    local_time(node.started_at)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u8, heartbeat: i64) -> NodeStatus {
        NodeStatus {
            id,
            hostname: format!("node{id}.example.test"),
            roles: vec!["mx".into(), "relay".into()],
            address: "mx 127.0.0.1:25".into(),
            version: "0.1.0".into(),
            started_at: 1_000,
            heartbeat,
        }
    }

    #[test]
    fn a_node_silent_for_three_beats_is_not_answering_and_a_queue_without_a_node_is_listed() {
        let now = 10_000;
        let held = QueueSummary {
            hold: 2,
            bytes: 4096,
            ..QueueSummary::default()
        };
        let status = Status::of(
            vec![node(2, now - 5), node(1, now - 31)],
            vec![(2, QueueSummary::default()), (7, held)],
            now,
        );
        let seen: Vec<(u8, bool, u64)> = status
            .nodes
            .iter()
            .map(|n| (n.id, n.answering, n.queue.hold))
            .collect();
        assert_eq!(seen, [(1, false, 0), (2, true, 0), (7, false, 2)]);
        let text = status.text();
        assert!(text.contains(" not answering"), "{text}");
        assert!(text.contains("never"), "{text}");
    }
}
