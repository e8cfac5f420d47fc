//! RFC 5256 THREAD=ORDEREDSUBJECT and THREAD=REFERENCES over the sort keys
//! of a set of messages, and the IMAP formatting of the result. Deep
//! threads (long reply chains) are handled without recursion.

use std::collections::HashMap;

use crate::sort::SortKeys;

/// A thread tree node: a message (`id` as given by the caller: sequence
/// number or UID) or a dummy standing for a missing parent (`None`).
#[derive(Debug, PartialEq, Eq)]
pub struct ThreadNode {
    pub id: Option<u32>,
    pub children: Vec<ThreadNode>,
}

impl Drop for ThreadNode {
    // iterative, so that a very deep chain cannot overflow the stack
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.children);
        while let Some(mut node) = stack.pop() {
            stack.append(&mut node.children);
        }
    }
}

/// One message to thread: (id, its sort keys, its INTERNALDATE in Unix
/// seconds, used when it has no sent date). Give them in mailbox order.
pub type ThreadInput<'a> = (u32, &'a SortKeys, i64);

fn sort_key(msgs: &[ThreadInput<'_>], i: usize) -> (i64, usize) {
    (msgs[i].1.sent_date_or(msgs[i].2), i)
}

fn leaf(id: u32) -> ThreadNode {
    ThreadNode {
        id: Some(id),
        children: Vec::new(),
    }
}

/// THREAD=ORDEREDSUBJECT: messages grouped by base subject; in each group
/// the first (by sent date) is the root and the others its children;
/// groups ordered by the sent date of their root.
pub fn thread_orderedsubject(msgs: &[ThreadInput<'_>]) -> Vec<ThreadNode> {
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    order.sort_by(|&a, &b| {
        msgs[a]
            .1
            .subject
            .cmp(&msgs[b].1.subject)
            .then(sort_key(msgs, a).cmp(&sort_key(msgs, b)))
    });
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match groups.last_mut() {
            Some(g) if msgs[g[0]].1.subject == msgs[i].1.subject => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    groups.sort_by_key(|g| sort_key(msgs, g[0]));
    groups
        .into_iter()
        .map(|g| ThreadNode {
            id: Some(msgs[g[0]].0),
            children: g[1..].iter().map(|&i| leaf(msgs[i].0)).collect(),
        })
        .collect()
}

struct Container {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Threader<'m, 'k> {
    msgs: &'m [ThreadInput<'k>],
    c: Vec<Container>,
    ids: HashMap<String, usize>,
}

impl Threader<'_, '_> {
    fn new_container(&mut self, msg: Option<usize>) -> usize {
        self.c.push(Container {
            msg,
            parent: None,
            children: Vec::new(),
        });
        self.c.len() - 1
    }

    fn by_id(&mut self, id: &str) -> usize {
        if let Some(&c) = self.ids.get(id) {
            return c;
        }
        let c = self.new_container(None);
        self.ids.insert(id.to_owned(), c);
        c
    }

    /// Whether `a` is `b` or one of its ancestors.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        if self.c[a].children.is_empty() {
            // a leaf is nobody's ancestor (the usual case: a new message)
            return a == b;
        }
        let mut x = Some(b);
        while let Some(i) = x {
            if i == a {
                return true;
            }
            x = self.c[i].parent;
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.c[child].parent.take() {
            self.c[p].children.retain(|&x| x != child);
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.c[child].parent = Some(parent);
        self.c[parent].children.push(child);
    }

    fn add_message(&mut self, i: usize) {
        let keys = self.msgs[i].1;
        let known = keys
            .message_id
            .as_deref()
            .and_then(|id| self.ids.get(id).copied());
        let me = match known {
            Some(c) if self.c[c].msg.is_none() => {
                self.c[c].msg = Some(i);
                c
            }
            Some(_) => self.new_container(Some(i)), // duplicate Message-ID
            None => {
                let c = self.new_container(Some(i));
                if let Some(id) = &keys.message_id {
                    self.ids.insert(id.clone(), c);
                }
                c
            }
        };
        let refs: Vec<&String> = if keys.references.is_empty() {
            keys.in_reply_to.iter().collect()
        } else {
            keys.references.iter().collect()
        };
        let refs: Vec<usize> = refs.into_iter().map(|r| self.by_id(r)).collect();
        for pair in refs.windows(2) {
            let (p, ch) = (pair[0], pair[1]);
            if self.c[ch].parent.is_none() && !self.is_ancestor(ch, p) {
                self.link(p, ch);
            }
        }
        let parent = refs.last().copied();
        if self.c[me].parent != parent {
            self.unlink(me);
            if let Some(p) = parent.filter(|&p| !self.is_ancestor(me, p)) {
                self.link(p, me);
            }
        }
    }

    fn is_dummy(&self, c: usize) -> bool {
        self.c[c].msg.is_none()
    }

    /// Containers of the forest under `roots`, children before parents.
    fn post_order(&self, roots: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
        while let Some((c, expanded)) = stack.pop() {
            if expanded {
                out.push(c);
            } else {
                stack.push((c, true));
                stack.extend(self.c[c].children.iter().rev().map(|&ch| (ch, false)));
            }
        }
        out
    }

    /// Drops childless dummies and splices dummies' children into their
    /// place (at the top only when there is a single child).
    fn prune(&mut self, list: Vec<usize>, top: bool) -> Vec<usize> {
        let mut out = Vec::with_capacity(list.len());
        for ch in list {
            if self.is_dummy(ch) {
                let kids = &self.c[ch].children;
                if kids.is_empty() {
                    continue;
                }
                if !top || kids.len() == 1 {
                    out.extend(std::mem::take(&mut self.c[ch].children));
                    continue;
                }
            }
            out.push(ch);
        }
        out
    }

    /// (sent date, mailbox position) of a message, or of the earliest
    /// message under a dummy.
    fn key(&self, c: usize) -> (i64, usize) {
        let mut best = (i64::MAX, usize::MAX);
        let mut stack = vec![c];
        while let Some(x) = stack.pop() {
            match self.c[x].msg {
                Some(i) => best = best.min(sort_key(self.msgs, i)),
                None => stack.extend(&self.c[x].children),
            }
        }
        best
    }

    fn sort_list(&self, list: &mut [usize]) {
        list.sort_by_cached_key(|&c| self.key(c));
    }

    fn sort_children(&mut self, c: usize) {
        let mut kids = std::mem::take(&mut self.c[c].children);
        self.sort_list(&mut kids);
        self.c[c].children = kids;
    }

    /// The subject of a top-level thread: its message's, or its first
    /// message's for a dummy.
    fn subject(&self, mut c: usize) -> Option<&str> {
        loop {
            match self.c[c].msg {
                Some(i) => return Some(&self.msgs[i].1.subject),
                None => c = *self.c[c].children.first()?,
            }
        }
    }

    fn is_reply(&self, c: usize) -> bool {
        self.c[c]
            .msg
            .is_some_and(|i| self.msgs[i].1.reply_or_forward)
    }

    /// Step 5 of REFERENCES: merge top-level threads with the same base
    /// subject.
    fn merge_subjects(&mut self, roots: &mut Vec<usize>) {
        let mut table: HashMap<String, usize> = HashMap::new();
        for &r in roots.iter() {
            let Some(subject) = self.subject(r).filter(|s| !s.is_empty()) else {
                continue;
            };
            match table.get(subject) {
                None => {
                    table.insert(subject.to_owned(), r);
                }
                Some(&t) => {
                    if !self.is_dummy(t)
                        && (self.is_dummy(r) || (self.is_reply(t) && !self.is_reply(r)))
                    {
                        table.insert(subject.to_owned(), r);
                    }
                }
            }
        }
        let mut top = vec![false; self.c.len()];
        for &r in roots.iter() {
            top[r] = true;
        }
        let snapshot = roots.clone();
        for r in snapshot {
            if !top[r] {
                continue;
            }
            let Some(subject) = self.subject(r).filter(|s| !s.is_empty()).map(str::to_owned) else {
                continue;
            };
            let Some(&t) = table.get(&subject) else {
                continue;
            };
            if t == r {
                continue;
            }
            if self.is_dummy(t) && self.is_dummy(r) {
                let kids = std::mem::take(&mut self.c[r].children);
                self.c[t].children.extend(kids);
            } else if self.is_dummy(t) || (self.is_reply(r) && !self.is_reply(t)) {
                self.c[t].children.push(r);
            } else {
                let d = self.new_container(None);
                self.c[d].children = vec![t, r];
                top.push(true);
                if let Some(slot) = roots.iter_mut().find(|x| **x == t) {
                    *slot = d;
                }
                top[t] = false;
                table.insert(subject, d);
            }
            top[r] = false;
        }
        roots.retain(|&r| top[r]);
    }

    fn to_node(&self, root: usize) -> ThreadNode {
        let order = self.post_order(&[root]);
        let mut built: HashMap<usize, ThreadNode> = HashMap::with_capacity(order.len());
        for c in order {
            let children = self.c[c]
                .children
                .iter()
                .filter_map(|ch| built.remove(ch))
                .collect();
            let id = self.c[c].msg.map(|i| self.msgs[i].0);
            built.insert(c, ThreadNode { id, children });
        }
        built.remove(&root).unwrap_or(ThreadNode {
            id: None,
            children: Vec::new(),
        })
    }
}

/// THREAD=REFERENCES (RFC 5256 section 3): threads from Message-ID,
/// References and In-Reply-To, missing parents as dummies (kept only at the
/// top with several children), top-level threads merged by base subject,
/// siblings ordered by sent date.
pub fn thread_references(msgs: &[ThreadInput<'_>]) -> Vec<ThreadNode> {
    let mut t = Threader {
        msgs,
        c: Vec::new(),
        ids: HashMap::new(),
    };
    for i in 0..msgs.len() {
        t.add_message(i);
    }
    let roots: Vec<usize> = (0..t.c.len())
        .filter(|&c| t.c[c].parent.is_none())
        .collect();
    for c in t.post_order(&roots) {
        let kids = std::mem::take(&mut t.c[c].children);
        t.c[c].children = t.prune(kids, false);
    }
    let mut roots = t.prune(roots, true);
    for &r in &roots {
        if t.is_dummy(r) {
            t.sort_children(r);
        }
    }
    t.sort_list(&mut roots);
    t.merge_subjects(&mut roots);
    for c in t.post_order(&roots) {
        t.sort_children(c);
    }
    t.sort_list(&mut roots);
    roots.iter().map(|&r| t.to_node(r)).collect()
}

/// The THREAD response data: `(1 2)(3 (4)(5))`, each thread in parentheses,
/// a single child written after its parent, several as parenthesised lists.
pub fn format_threads(threads: &[ThreadNode]) -> String {
    enum Step<'a> {
        Node(&'a ThreadNode),
        Text(&'static str),
    }
    let mut out = String::new();
    for thread in threads {
        let mut stack = vec![Step::Text(")"), Step::Node(thread), Step::Text("(")];
        while let Some(step) = stack.pop() {
            let node = match step {
                Step::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Step::Node(n) => n,
            };
            if let Some(id) = node.id {
                out.push_str(&id.to_string());
                if !node.children.is_empty() {
                    out.push(' ');
                }
            }
            match node.children.as_slice() {
                [] => {}
                [only] => stack.push(Step::Node(only)),
                many => {
                    for child in many.iter().rev() {
                        stack.push(Step::Text(")"));
                        stack.push(Step::Node(child));
                        stack.push(Step::Text("("));
                    }
                }
            }
        }
    }
    out
}
