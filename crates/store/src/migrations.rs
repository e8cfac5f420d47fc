//! Versioned schema. A migration is never edited once released: add a new one.
//!
//! Each version has two forms, one per engine, written side by side so
//! that they stay the same change: the code of both engines reads the same
//! tables and columns, and `havre migrate-storage` copies rows across as they
//! are (yes/no columns are 0/1 integers on both, not PostgreSQL booleans).

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    /// SQLite's form.
    pub sql: &'static str,
    /// PostgreSQL's form of the same change: the same tables, columns and
    /// meaning, with PostgreSQL's types (BIGINT for SQLite's INTEGER, whose
    /// values are 64-bit; BYTEA for BLOB; `"user"` quoted, a reserved word).
    pub postgres: &'static str,
}

/// The migrations a database at schema version `current` lacks, in order;
/// a database newer than this code is refused, whatever its engine.
pub(crate) fn pending(current: i64) -> crate::Result<impl Iterator<Item = &'static Migration>> {
    let known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
    if current > known {
        return Err(crate::StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    Ok(MIGRATIONS.iter().filter(move |m| m.version > current))
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "directory and queue",
        sql: r#"
CREATE TABLE domains (
    name        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);
CREATE TABLE users (
    email          TEXT PRIMARY KEY,
    domain         TEXT NOT NULL REFERENCES domains(name),
    password_hash  TEXT,
    class          TEXT NOT NULL,
    quota          INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX users_domain ON users(domain);
CREATE TABLE aliases (
    address  TEXT NOT NULL,
    domain   TEXT NOT NULL REFERENCES domains(name),
    target   TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (address, target)
);
CREATE INDEX aliases_domain ON aliases(domain);
CREATE TABLE queue_messages (
    id           TEXT PRIMARY KEY,
    sender       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    arrival      INTEGER NOT NULL,
    client       TEXT NOT NULL,
    protocol     TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    hold         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queue_due ON queue_messages(hold, next_attempt);
CREATE TABLE queue_recipients (
    queue_id    TEXT NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    address     TEXT NOT NULL,
    status      INTEGER NOT NULL DEFAULT 0,
    last_reply  TEXT,
    PRIMARY KEY (queue_id, idx)
);
"#,
        postgres: r#"
CREATE TABLE domains (
    name        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);
CREATE TABLE users (
    email          TEXT PRIMARY KEY,
    domain         TEXT NOT NULL REFERENCES domains(name),
    password_hash  TEXT,
    class          TEXT NOT NULL,
    quota          BIGINT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX users_domain ON users(domain);
CREATE TABLE aliases (
    address  TEXT NOT NULL,
    domain   TEXT NOT NULL REFERENCES domains(name),
    target   TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (address, target)
);
CREATE INDEX aliases_domain ON aliases(domain);
CREATE TABLE queue_messages (
    id           TEXT PRIMARY KEY,
    sender       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    arrival      BIGINT NOT NULL,
    client       TEXT NOT NULL,
    protocol     TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    hold         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX queue_due ON queue_messages(hold, next_attempt);
CREATE TABLE queue_recipients (
    queue_id    TEXT NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
    idx         BIGINT NOT NULL,
    address     TEXT NOT NULL,
    status      BIGINT NOT NULL DEFAULT 0,
    last_reply  TEXT,
    PRIMARY KEY (queue_id, idx)
);
"#,
    },
    Migration {
        version: 2,
        name: "mailboxes",
        sql: r#"
CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user          TEXT NOT NULL,
    name          TEXT NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    special_use   TEXT,
    subscribed    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (user, name)
);
CREATE TABLE messages (
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    file          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    flags         TEXT NOT NULL DEFAULT '',
    modseq        INTEGER NOT NULL,
    cache         TEXT,
    PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE UNIQUE INDEX messages_file ON messages(mailbox_id, file);
CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);
"#,
        postgres: r#"
CREATE TABLE mailboxes (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    "user"        TEXT NOT NULL,
    name          TEXT NOT NULL,
    uidvalidity   BIGINT NOT NULL,
    uidnext       BIGINT NOT NULL DEFAULT 1,
    highestmodseq BIGINT NOT NULL DEFAULT 1,
    special_use   TEXT,
    subscribed    BIGINT NOT NULL DEFAULT 1,
    UNIQUE ("user", name)
);
CREATE TABLE messages (
    mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           BIGINT NOT NULL,
    file          TEXT NOT NULL,
    size          BIGINT NOT NULL,
    internal_date BIGINT NOT NULL,
    flags         TEXT NOT NULL DEFAULT '',
    modseq        BIGINT NOT NULL,
    cache         TEXT,
    PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE UNIQUE INDEX messages_file ON messages(mailbox_id, file);
CREATE TABLE expunged (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        BIGINT NOT NULL,
    modseq     BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);
"#,
    },
    Migration {
        version: 3,
        name: "delay warnings",
        sql: "ALTER TABLE queue_messages ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;",
        postgres: "ALTER TABLE queue_messages ADD COLUMN warned BIGINT NOT NULL DEFAULT 0;",
    },
    Migration {
        version: 4,
        name: "original recipients",
        sql: "ALTER TABLE queue_recipients ADD COLUMN orig TEXT;",
        postgres: "ALTER TABLE queue_recipients ADD COLUMN orig TEXT;",
    },
    Migration {
        version: 5,
        name: "subscriptions",
        // RFC 9051 6.3.7: the subscription list is the client's, apart from
        // the mailboxes: a name stays subscribed after DELETE and a CREATE
        // does not subscribe. `mailboxes.subscribed` is no longer read.
        sql: r#"
CREATE TABLE subscriptions (
    user TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (user, name)
);
INSERT INTO subscriptions (user, name) SELECT user, name FROM mailboxes WHERE subscribed = 1;
"#,
        postgres: r#"
CREATE TABLE subscriptions (
    "user" TEXT NOT NULL,
    name   TEXT NOT NULL,
    PRIMARY KEY ("user", name)
);
INSERT INTO subscriptions ("user", name) SELECT "user", name FROM mailboxes WHERE subscribed = 1;
"#,
    },
    Migration {
        version: 6,
        name: "uidvalidity given",
        // The highest UIDVALIDITY each user's mailboxes ever had, so that a
        // mailbox deleted and created again gets a greater one (RFC 9051 2.3.1.1)
        // even within the same second.
        sql: r#"
CREATE TABLE uidvalidity_given (
    user TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
INSERT INTO uidvalidity_given (user, last)
    SELECT user, MAX(uidvalidity) FROM mailboxes GROUP BY user;
-- \Recent (RFC 3501 2.3.2): messages from this UID on have not been seen by
-- any session yet. What was there before the upgrade is not recent.
ALTER TABLE mailboxes ADD COLUMN recent_from INTEGER NOT NULL DEFAULT 1;
UPDATE mailboxes SET recent_from = uidnext;
"#,
        postgres: r#"
CREATE TABLE uidvalidity_given (
    "user" TEXT PRIMARY KEY,
    last   BIGINT NOT NULL
);
INSERT INTO uidvalidity_given ("user", last)
    SELECT "user", MAX(uidvalidity) FROM mailboxes GROUP BY "user";
ALTER TABLE mailboxes ADD COLUMN recent_from BIGINT NOT NULL DEFAULT 1;
UPDATE mailboxes SET recent_from = uidnext;
"#,
    },
    Migration {
        version: 7,
        name: "metadata",
        // RFC 5464 entries of a user's mailbox (`mailbox_id`) or of the
        // server as that user sees it (`mailbox_id` 0). Entry names are kept
        // lower-case (they compare case-insensitively). Removed with the
        // mailbox or the user.
        sql: r#"
CREATE TABLE metadata (
    user       TEXT NOT NULL,
    mailbox_id INTEGER NOT NULL,
    entry      TEXT NOT NULL,
    value      BLOB NOT NULL,
    PRIMARY KEY (user, mailbox_id, entry)
);
"#,
        postgres: r#"
CREATE TABLE metadata (
    "user"     TEXT NOT NULL,
    mailbox_id BIGINT NOT NULL,
    entry      TEXT NOT NULL,
    value      BYTEA NOT NULL,
    PRIMARY KEY ("user", mailbox_id, entry)
);
"#,
    },
    Migration {
        version: 8,
        name: "disabled users",
        // A disabled user cannot log in (IMAP, POP3, submission) but still
        // receives mail, as Dovecot's `nologin` extra field: suspending an
        // account loses nothing.
        sql: r#"
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
"#,
        postgres: "ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;",
    },
    Migration {
        version: 9,
        name: "quarantine",
        // Why a check held the message (Postfix's HOLD action): a message on
        // hold with a reason is in quarantine; one held by the operator has
        // none. Cleared with the hold when the message is released.
        sql: r#"
ALTER TABLE queue_messages ADD COLUMN hold_reason TEXT;
CREATE INDEX queue_quarantine ON queue_messages(arrival) WHERE hold_reason IS NOT NULL;
"#,
        postgres: r#"
ALTER TABLE queue_messages ADD COLUMN hold_reason TEXT;
CREATE INDEX queue_quarantine ON queue_messages(arrival) WHERE hold_reason IS NOT NULL;
"#,
    },
    Migration {
        version: 10,
        name: "bayes",
        // The Bayes classifier's counts per owner ('' global, else a user's
        // address): tokens are u64 hashes stored as signed integers. Each
        // learning batch writes its generation on the rows it changed, so a
        // copy in memory reads only what changed since its own (the index).
        // Rows that fall to zero stay, so that copy learns they did.
        sql: r#"
CREATE TABLE bayes_tokens (
    owner      TEXT NOT NULL,
    token      INTEGER NOT NULL,
    spam       INTEGER NOT NULL,
    ham        INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (owner, token)
) WITHOUT ROWID;
CREATE INDEX bayes_tokens_generation ON bayes_tokens(owner, generation);
CREATE TABLE bayes_totals (
    owner      TEXT PRIMARY KEY,
    spam       INTEGER NOT NULL,
    ham        INTEGER NOT NULL,
    generation INTEGER NOT NULL
);
CREATE TABLE bayes_learned (
    owner      TEXT NOT NULL,
    digest     BLOB NOT NULL,
    class      INTEGER NOT NULL,
    learned_at INTEGER NOT NULL,
    PRIMARY KEY (owner, digest)
) WITHOUT ROWID;
"#,
        postgres: r#"
CREATE TABLE bayes_tokens (
    owner      TEXT NOT NULL,
    token      BIGINT NOT NULL,
    spam       BIGINT NOT NULL,
    ham        BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (owner, token)
);
CREATE INDEX bayes_tokens_generation ON bayes_tokens(owner, generation);
CREATE TABLE bayes_totals (
    owner      TEXT PRIMARY KEY,
    spam       BIGINT NOT NULL,
    ham        BIGINT NOT NULL,
    generation BIGINT NOT NULL
);
CREATE TABLE bayes_learned (
    owner      TEXT NOT NULL,
    digest     BYTEA NOT NULL,
    class      BIGINT NOT NULL,
    learned_at BIGINT NOT NULL,
    PRIMARY KEY (owner, digest)
);
"#,
    },
    Migration {
        version: 11,
        name: "search index",
        // The folded text SEARCH compares (see the store's search module):
        // header fields in a narrow table scanned by header searches, header
        // and body text apart, with the raw lines of the header fields
        // message lists FETCH. Rows follow their message by cascade. What
        // was delivered before has no text yet: pending, filled in by the
        // first SEARCH of its mailbox.
        sql: r#"
CREATE TABLE message_headers (
    mailbox_id INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    subject    TEXT,
    addr_from  TEXT,
    addr_to    TEXT,
    addr_cc    TEXT,
    addr_bcc   TEXT,
    PRIMARY KEY (mailbox_id, uid),
    FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE message_texts (
    mailbox_id INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    fields     BLOB,
    header     TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid),
    FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE
);
CREATE TABLE search_pending (
    mailbox_id INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid),
    FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO search_pending (mailbox_id, uid) SELECT mailbox_id, uid FROM messages;
"#,
        postgres: r#"
CREATE TABLE message_headers (
    mailbox_id BIGINT NOT NULL,
    uid        BIGINT NOT NULL,
    subject    TEXT,
    addr_from  TEXT,
    addr_to    TEXT,
    addr_cc    TEXT,
    addr_bcc   TEXT,
    PRIMARY KEY (mailbox_id, uid),
    FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE
);
CREATE TABLE message_texts (
    mailbox_id BIGINT NOT NULL,
    uid        BIGINT NOT NULL,
    fields     BYTEA,
    header     TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid),
    FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE
);
CREATE TABLE search_pending (
    mailbox_id BIGINT NOT NULL,
    uid        BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, uid),
    FOREIGN KEY (mailbox_id, uid) REFERENCES messages(mailbox_id, uid) ON DELETE CASCADE
);
INSERT INTO search_pending (mailbox_id, uid) SELECT mailbox_id, uid FROM messages;
"#,
    },
    Migration {
        version: 12,
        name: "queue bodies",
        // Small queued bodies kept with their record: committed in the same
        // transaction, so one WAL sync makes a received message durable
        // (a spool file needed its own fsync and its directory's). Bigger
        // bodies stay spool files. Rows follow their record by cascade.
        sql: r#"
CREATE TABLE queue_bodies (
    queue_id TEXT PRIMARY KEY REFERENCES queue_messages(id) ON DELETE CASCADE,
    body     BLOB NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE queue_bodies (
    queue_id TEXT PRIMARY KEY REFERENCES queue_messages(id) ON DELETE CASCADE,
    body     BYTEA NOT NULL
);
"#,
    },
    Migration {
        version: 13,
        name: "sieve scripts",
        // Users' Sieve scripts as ManageSieve sees them: by name, at most
        // one active (a partial unique index keeps it so). `changed` counts
        // the user's writes, for compiled copies kept by delivery.
        sql: r#"
CREATE TABLE sieve_scripts (
    user   TEXT NOT NULL,
    name   TEXT NOT NULL,
    source TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user, name)
);
CREATE UNIQUE INDEX sieve_one_active ON sieve_scripts(user) WHERE active = 1;
CREATE TABLE sieve_users (
    user    TEXT PRIMARY KEY,
    changed INTEGER NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE sieve_scripts (
    "user" TEXT NOT NULL,
    name   TEXT NOT NULL,
    source TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY ("user", name)
);
CREATE UNIQUE INDEX sieve_one_active ON sieve_scripts("user") WHERE active = 1;
CREATE TABLE sieve_users (
    "user"  TEXT PRIMARY KEY,
    changed BIGINT NOT NULL
);
"#,
    },
    Migration {
        version: 14,
        name: "mailbox sizes",
        // What each mailbox holds, in bytes (the messages' RFC 822 sizes,
        // as IMAP QUOTA counts them), kept by triggers so that every way a
        // message comes or goes counts: a user's quota use is the sum of a
        // few rows, read with her address at RCPT time, not a scan of her
        // messages.
        sql: r#"
ALTER TABLE mailboxes ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET bytes =
    (SELECT COALESCE(SUM(size), 0) FROM messages WHERE mailbox_id = mailboxes.id);
CREATE TRIGGER messages_bytes_in AFTER INSERT ON messages BEGIN
    UPDATE mailboxes SET bytes = bytes + NEW.size WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER messages_bytes_out AFTER DELETE ON messages BEGIN
    UPDATE mailboxes SET bytes = bytes - OLD.size WHERE id = OLD.mailbox_id;
END;
"#,
        postgres: r#"
ALTER TABLE mailboxes ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
UPDATE mailboxes SET bytes =
    (SELECT COALESCE(SUM(size), 0) FROM messages WHERE mailbox_id = mailboxes.id);
CREATE FUNCTION messages_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE mailboxes SET bytes = bytes + NEW.size WHERE id = NEW.mailbox_id;
        RETURN NEW;
    END IF;
    UPDATE mailboxes SET bytes = bytes - OLD.size WHERE id = OLD.mailbox_id;
    RETURN OLD;
END $$;
CREATE TRIGGER messages_bytes_in AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_bytes();
CREATE TRIGGER messages_bytes_out AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_bytes();
"#,
    },
    Migration {
        version: 15,
        name: "class quotas",
        // The default quota of each class (`mailbox.class_quotas`, written
        // by serve from its configuration): a user without a quota of her
        // own has her class's. Her own 0 means unlimited, whatever her class.
        sql: r#"
CREATE TABLE class_quotas (
    class TEXT PRIMARY KEY,
    quota INTEGER NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE class_quotas (
    class TEXT PRIMARY KEY,
    quota BIGINT NOT NULL
);
"#,
    },
    Migration {
        version: 16,
        name: "nodes",
        // A cluster's nodes (`server.node_id`) and their heartbeats, for
        // `havre cluster status`; and on each queue record the node whose
        // spool holds it: a node's queue runner takes only its own records
        // (Postfix's queue is per host), the others are listed with
        // `--all-nodes`. Records made before are the node's that has them.
        sql: r#"
ALTER TABLE queue_messages ADD COLUMN node INTEGER NOT NULL DEFAULT 0;
CREATE INDEX queue_node ON queue_messages(node);
CREATE TABLE nodes (
    id         INTEGER PRIMARY KEY,
    hostname   TEXT NOT NULL,
    roles      TEXT NOT NULL,
    address    TEXT NOT NULL,
    version    TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat  INTEGER NOT NULL
);
"#,
        postgres: r#"
ALTER TABLE queue_messages ADD COLUMN node BIGINT NOT NULL DEFAULT 0;
CREATE INDEX queue_node ON queue_messages(node);
CREATE TABLE nodes (
    id         BIGINT PRIMARY KEY,
    hostname   TEXT NOT NULL,
    roles      TEXT NOT NULL,
    address    TEXT NOT NULL,
    version    TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat  BIGINT NOT NULL
);
"#,
    },
    Migration {
        version: 17,
        name: "index a delivery in one call",
        // A delivery indexed on PostgreSQL is one call
        // (`postgres_mail::index_message`) instead of six statements, each a
        // round trip made while the mailbox's row is locked: deliveries into
        // one mailbox go one after the other, at the pace of those trips.
        // SQLite runs the same steps in process (`sqlite_mail::index_message`).
        sql: "-- PostgreSQL only: SQLite indexes a delivery in process.",
        postgres: r#"
CREATE FUNCTION havre_index_message(
    p_mailbox BIGINT, p_file TEXT, p_size BIGINT, p_internal_date BIGINT, p_flags TEXT,
    p_cache TEXT, p_uid BIGINT, p_indexed BOOLEAN, p_subject TEXT, p_from TEXT, p_to TEXT,
    p_cc TEXT, p_bcc TEXT, p_fields BYTEA, p_header TEXT, p_body TEXT,
    OUT indexed TEXT, OUT indexed_uid BIGINT, OUT indexed_modseq BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    next_uid BIGINT;
    highest BIGINT;
BEGIN
    -- Held to the commit: the counters read are still the mailbox's when
    -- written back.
    SELECT b.uidnext, b.highestmodseq INTO next_uid, highest
        FROM mailboxes b WHERE b.id = p_mailbox FOR UPDATE;
    IF NOT FOUND THEN
        indexed := 'no mailbox';
        RETURN;
    END IF;
    SELECT m.uid INTO indexed_uid FROM messages m
        WHERE m.mailbox_id = p_mailbox AND m.file = p_file;
    IF FOUND THEN
        indexed := 'known';
        RETURN;
    END IF;
    indexed_uid := GREATEST(next_uid, COALESCE(p_uid, 0));
    indexed_modseq := highest + 1;
    INSERT INTO messages (mailbox_id, uid, file, size, internal_date, flags, modseq, cache)
        VALUES (p_mailbox, indexed_uid, p_file, p_size, p_internal_date, p_flags,
                indexed_modseq, p_cache);
    IF p_indexed THEN
        INSERT INTO message_headers (mailbox_id, uid, subject, addr_from, addr_to, addr_cc, addr_bcc)
            VALUES (p_mailbox, indexed_uid, p_subject, p_from, p_to, p_cc, p_bcc);
        INSERT INTO message_texts (mailbox_id, uid, fields, header, body)
            VALUES (p_mailbox, indexed_uid, p_fields, p_header, p_body);
    ELSE
        INSERT INTO search_pending (mailbox_id, uid) VALUES (p_mailbox, indexed_uid);
    END IF;
    UPDATE mailboxes SET uidnext = indexed_uid + 1, highestmodseq = indexed_modseq
        WHERE id = p_mailbox;
    indexed := 'new';
END
$$;
"#,
    },
    Migration {
        version: 18,
        name: "index deliveries together",
        // Deliveries into one mailbox that arrive while one is being indexed
        // are indexed together (`postgres_batch`): one call, one commit,
        // one WAL flush for all of them, each exactly as
        // `havre_index_message` would have, in order.
        sql: "-- PostgreSQL only: SQLite's single writer commits in process.",
        postgres: r#"
CREATE FUNCTION havre_index_messages(
    p_mailbox BIGINT, p_file TEXT[], p_size BIGINT[], p_internal_date BIGINT[], p_flags TEXT[],
    p_cache TEXT[], p_uid BIGINT[], p_indexed BOOLEAN[], p_subject TEXT[], p_from TEXT[],
    p_to TEXT[], p_cc TEXT[], p_bcc TEXT[], p_fields BYTEA[], p_header TEXT[], p_body TEXT[])
RETURNS TABLE (ordinal INT, indexed TEXT, indexed_uid BIGINT, indexed_modseq BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    one RECORD;
BEGIN
    FOR i IN 1 .. COALESCE(array_length(p_file, 1), 0) LOOP
        SELECT * INTO one FROM havre_index_message(p_mailbox, p_file[i], p_size[i],
            p_internal_date[i], p_flags[i], p_cache[i], p_uid[i], p_indexed[i], p_subject[i],
            p_from[i], p_to[i], p_cc[i], p_bcc[i], p_fields[i], p_header[i], p_body[i]);
        ordinal := i;
        indexed := one.indexed;
        indexed_uid := one.indexed_uid;
        indexed_modseq := one.indexed_modseq;
        RETURN NEXT;
    END LOOP;
END
$$;
"#,
    },
    Migration {
        version: 19,
        name: "finish a delivery attempt in one call",
        // The recipients' statuses, the attempt counted and the record
        // removed once every recipient is final: one round trip
        // (`postgres::queue_finish_attempt`) instead of three.
        sql: "-- PostgreSQL only: SQLite finishes an attempt in process.",
        postgres: r#"
CREATE FUNCTION havre_finish_attempt(
    p_id TEXT, p_idx BIGINT[], p_status BIGINT[], p_reply TEXT[], p_next_attempt BIGINT,
    p_sent BIGINT, p_failed BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE queue_recipients r SET status = u.status, last_reply = u.reply
        FROM UNNEST(p_idx, p_status, p_reply) AS u(idx, status, reply)
        WHERE r.queue_id = p_id AND r.idx = u.idx;
    IF EXISTS (SELECT 1 FROM queue_recipients
               WHERE queue_id = p_id AND status NOT IN (p_sent, p_failed)) THEN
        UPDATE queue_messages SET attempts = attempts + 1, next_attempt = p_next_attempt
            WHERE id = p_id;
        RETURN FALSE;
    END IF;
    DELETE FROM queue_messages WHERE id = p_id;
    RETURN FOUND;
END
$$;
"#,
    },
    Migration {
        version: 20,
        name: "index and finish without a round trip under the lock",
        // The mailboxes' rows a delivery locks are now held only while the
        // server runs one call, never across a round trip to havre: the
        // call commits asynchronously (it sets `synchronous_commit` for its
        // own transaction, the implicit one of a lone statement) and the
        // caller's next statement, a synchronous commit on the same
        // connection, returns once both are on disk (`postgres_write.rs`).
        // `havre_index_rows` indexes messages into any mailboxes (locked in
        // id order first, so two nodes never wait on each other in a
        // cycle); `havre_finish_delivery` is that and the end of a relay
        // attempt in the same transaction. `havre_index_messages` gives way
        // to the first.
        sql: "-- PostgreSQL only: SQLite indexes and finishes in process.",
        postgres: r#"
DROP FUNCTION havre_index_messages(BIGINT, TEXT[], BIGINT[], BIGINT[], TEXT[], TEXT[], BIGINT[],
    BOOLEAN[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], BYTEA[], TEXT[], TEXT[]);
CREATE FUNCTION havre_index_rows(
    p_mailbox BIGINT[], p_file TEXT[], p_size BIGINT[], p_internal_date BIGINT[], p_flags TEXT[],
    p_cache TEXT[], p_uid BIGINT[], p_indexed BOOLEAN[], p_subject TEXT[], p_from TEXT[],
    p_to TEXT[], p_cc TEXT[], p_bcc TEXT[], p_fields BYTEA[], p_header TEXT[], p_body TEXT[])
RETURNS TABLE (ordinal INT, indexed TEXT, indexed_uid BIGINT, indexed_modseq BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    one RECORD;
BEGIN
    -- Its transaction commits without waiting for the disk, locks gone at
    -- once: the caller follows on the same connection with a synchronous
    -- commit (SELECT txid_current()), and answers only after it.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM 1 FROM mailboxes WHERE id = ANY(p_mailbox) ORDER BY id FOR UPDATE;
    FOR i IN 1 .. COALESCE(array_length(p_file, 1), 0) LOOP
        SELECT * INTO one FROM havre_index_message(p_mailbox[i], p_file[i], p_size[i],
            p_internal_date[i], p_flags[i], p_cache[i], p_uid[i], p_indexed[i], p_subject[i],
            p_from[i], p_to[i], p_cc[i], p_bcc[i], p_fields[i], p_header[i], p_body[i]);
        ordinal := i;
        indexed := one.indexed;
        indexed_uid := one.indexed_uid;
        indexed_modseq := one.indexed_modseq;
        RETURN NEXT;
    END LOOP;
END
$$;
CREATE FUNCTION havre_finish_delivery(
    p_id TEXT, p_idx BIGINT[], p_status BIGINT[], p_reply TEXT[], p_next_attempt BIGINT,
    p_sent BIGINT, p_failed BIGINT,
    p_mailbox BIGINT[], p_file TEXT[], p_size BIGINT[], p_internal_date BIGINT[], p_flags TEXT[],
    p_cache TEXT[], p_uid BIGINT[], p_indexed BOOLEAN[], p_subject TEXT[], p_from TEXT[],
    p_to TEXT[], p_cc TEXT[], p_bcc TEXT[], p_fields BYTEA[], p_header TEXT[], p_body TEXT[])
RETURNS TABLE (ordinal INT, indexed TEXT, indexed_uid BIGINT, indexed_modseq BIGINT,
               removed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    finished BOOLEAN;
BEGIN
    -- The record's rows first: no other transaction locks them and then a
    -- mailbox (one attempt at a time per message), so no cycle.
    finished := havre_finish_attempt(p_id, p_idx, p_status, p_reply, p_next_attempt, p_sent,
                                     p_failed);
    RETURN QUERY SELECT r.*, finished FROM havre_index_rows(p_mailbox, p_file, p_size,
        p_internal_date, p_flags, p_cache, p_uid, p_indexed, p_subject, p_from, p_to, p_cc,
        p_bcc, p_fields, p_header, p_body) r;
END
$$;
"#,
    },
    Migration {
        version: 21,
        name: "index and finish in one flat call; lz4 for message texts and bodies",
        // Measured on the hot path (pg_stat_statements, one SMTP message
        // delivered locally): of the 0.8 ms `havre_finish_delivery` ran,
        // a third went to calling the functions it nests
        // (`havre_index_rows`, then `havre_index_message` for each message,
        // each through a set-returning call with all sixteen arrays).
        // `havre_deliver` does the same in one body: the attempt's end
        // when it has one (`p_id` not NULL, through `havre_finish_attempt`,
        // a plain call), the mailboxes locked in id order, each message
        // indexed in order, asynchronous commit as migration 20 says.
        // `havre_finish_attempt` no longer writes the statuses of
        // recipients it is about to delete with their record. A message's
        // rows go in with one statement (a file indexed already makes it
        // insert nothing, and the counters are put back), the mailbox's
        // counters are read and moved with one, which locks a lone mailbox.
        // A message's search text and a queued body are compressed with
        // lz4 rather than pglz, three times cheaper to write for the same
        // text; a server built without lz4 keeps pglz.
        sql: "-- PostgreSQL only: SQLite indexes and finishes in process, uncompressed.",
        postgres: r#"
DROP FUNCTION havre_finish_delivery(TEXT, BIGINT[], BIGINT[], TEXT[], BIGINT, BIGINT, BIGINT,
    BIGINT[], TEXT[], BIGINT[], BIGINT[], TEXT[], TEXT[], BIGINT[], BOOLEAN[], TEXT[], TEXT[],
    TEXT[], TEXT[], TEXT[], BYTEA[], TEXT[], TEXT[]);
DROP FUNCTION havre_index_rows(BIGINT[], TEXT[], BIGINT[], BIGINT[], TEXT[], TEXT[], BIGINT[],
    BOOLEAN[], TEXT[], TEXT[], TEXT[], TEXT[], TEXT[], BYTEA[], TEXT[], TEXT[]);
DROP FUNCTION havre_index_message(BIGINT, TEXT, BIGINT, BIGINT, TEXT, TEXT, BIGINT, BOOLEAN,
    TEXT, TEXT, TEXT, TEXT, TEXT, BYTEA, TEXT, TEXT);
CREATE OR REPLACE FUNCTION havre_finish_attempt(
    p_id TEXT, p_idx BIGINT[], p_status BIGINT[], p_reply TEXT[], p_next_attempt BIGINT,
    p_sent BIGINT, p_failed BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
BEGIN
    -- A record whose recipients are all final after this attempt goes,
    -- and its recipients with it: their statuses need no writing first.
    DELETE FROM queue_messages m WHERE m.id = p_id
        AND NOT EXISTS (SELECT 1 FROM queue_recipients r
                        LEFT JOIN UNNEST(p_idx, p_status) AS u(idx, status) ON u.idx = r.idx
                        WHERE r.queue_id = p_id
                          AND COALESCE(u.status, r.status) NOT IN (p_sent, p_failed));
    IF FOUND THEN
        RETURN TRUE;
    END IF;
    UPDATE queue_recipients r SET status = u.status, last_reply = u.reply
        FROM UNNEST(p_idx, p_status, p_reply) AS u(idx, status, reply)
        WHERE r.queue_id = p_id AND r.idx = u.idx;
    UPDATE queue_messages SET attempts = attempts + 1, next_attempt = p_next_attempt
        WHERE id = p_id;
    RETURN FALSE;
END
$$;
CREATE FUNCTION havre_deliver(
    p_id TEXT, p_idx BIGINT[], p_status BIGINT[], p_reply TEXT[], p_next_attempt BIGINT,
    p_sent BIGINT, p_failed BIGINT,
    p_mailbox BIGINT[], p_file TEXT[], p_size BIGINT[], p_internal_date BIGINT[], p_flags TEXT[],
    p_cache TEXT[], p_uid BIGINT[], p_indexed BOOLEAN[], p_subject TEXT[], p_from TEXT[],
    p_to TEXT[], p_cc TEXT[], p_bcc TEXT[], p_fields BYTEA[], p_header TEXT[], p_body TEXT[])
RETURNS TABLE (ordinal INT, indexed TEXT, indexed_uid BIGINT, indexed_modseq BIGINT,
               removed BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    v_mailbox BIGINT;
    v_file TEXT;
BEGIN
    -- Its transaction commits without waiting for the disk, locks gone at
    -- once: the caller follows on the same connection with a synchronous
    -- commit (SELECT txid_current()), and answers only after it.
    PERFORM set_config('synchronous_commit', 'off', true);
    -- The record's rows first: no other transaction locks them and then a
    -- mailbox (one attempt at a time per message), so no cycle.
    -- (SQL does not promise to skip the call once p_id IS NULL is known.)
    removed := FALSE;
    IF p_id IS NOT NULL THEN
        removed := havre_finish_attempt(p_id, p_idx, p_status, p_reply, p_next_attempt,
                                        p_sent, p_failed);
    END IF;
    -- With several mailboxes, every one first, in id order: two nodes
    -- never wait on each other in a cycle. A lone mailbox is locked by the
    -- update of its counters below. Either is held to the commit.
    IF NOT (p_mailbox[1] = ALL(p_mailbox)) THEN
        PERFORM 1 FROM mailboxes WHERE id = ANY(p_mailbox) ORDER BY id FOR UPDATE;
    END IF;
    FOR i IN 1 .. COALESCE(array_length(p_file, 1), 0) LOOP
        ordinal := i;
        v_mailbox := p_mailbox[i];
        v_file := p_file[i];
        indexed_uid := NULL;
        indexed_modseq := NULL;
        -- Each statement has a price of its own beyond its work (its
        -- executor, its plan's locks checked): the mailbox's counters are
        -- read and moved by one, the message's rows go in with another.
        UPDATE mailboxes b
            SET uidnext = GREATEST(b.uidnext, COALESCE(p_uid[i], 0)) + 1,
                highestmodseq = b.highestmodseq + 1
            WHERE b.id = v_mailbox
            RETURNING b.uidnext - 1, b.highestmodseq INTO indexed_uid, indexed_modseq;
        IF NOT FOUND THEN
            indexed := 'no mailbox';
        ELSE
            -- The search rows follow the message's row, and only when it
            -- went in; their references are checked at the end of the
            -- statement, the message's row in by then.
            IF p_indexed[i] THEN
                WITH message AS (
                    INSERT INTO messages (mailbox_id, uid, file, size, internal_date, flags,
                                          modseq, cache)
                        VALUES (v_mailbox, indexed_uid, v_file, p_size[i], p_internal_date[i],
                                p_flags[i], indexed_modseq, p_cache[i])
                        ON CONFLICT (mailbox_id, file) DO NOTHING
                        RETURNING uid),
                headers AS (
                    INSERT INTO message_headers (mailbox_id, uid, subject, addr_from, addr_to,
                                                 addr_cc, addr_bcc)
                        SELECT v_mailbox, uid, p_subject[i], p_from[i], p_to[i], p_cc[i],
                               p_bcc[i] FROM message)
                INSERT INTO message_texts (mailbox_id, uid, fields, header, body)
                    SELECT v_mailbox, uid, p_fields[i], p_header[i], p_body[i] FROM message;
            ELSE
                WITH message AS (
                    INSERT INTO messages (mailbox_id, uid, file, size, internal_date, flags,
                                          modseq, cache)
                        VALUES (v_mailbox, indexed_uid, v_file, p_size[i], p_internal_date[i],
                                p_flags[i], indexed_modseq, p_cache[i])
                        ON CONFLICT (mailbox_id, file) DO NOTHING
                        RETURNING uid)
                INSERT INTO search_pending (mailbox_id, uid) SELECT v_mailbox, uid FROM message;
            END IF;
            IF FOUND THEN
                indexed := 'new';
            ELSE
                -- Indexed already (a sync of the folder came first): it
                -- keeps its row, and the counters go back to where they
                -- were (the row is still ours alone), no UID used up.
                UPDATE mailboxes SET uidnext = indexed_uid, highestmodseq = indexed_modseq - 1
                    WHERE id = v_mailbox;
                indexed := 'known';
                indexed_modseq := NULL;
                SELECT m.uid INTO indexed_uid FROM messages m
                    WHERE m.mailbox_id = v_mailbox AND m.file = v_file;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
DO $$
BEGIN
    -- Dynamic, so that a server without lz4 (or without column
    -- compression) gets here and keeps what it has.
    EXECUTE 'ALTER TABLE message_texts ALTER COLUMN header SET COMPRESSION lz4, '
            || 'ALTER COLUMN body SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE queue_bodies ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
    RAISE NOTICE 'lz4 compression not available here: message texts stay compressed with pglz';
END
$$;
"#,
    },
    Migration {
        version: 22,
        name: "queue rows without references",
        // Measured per SMTP message on PostgreSQL: the record's insert and
        // removal cost more than a delivery's index rows. Part of it was the
        // references from a record's recipients and body to the record:
        // each row inserted made the server look the record up and lock it
        // (a WAL record of its own), and each removal ran two more deletes
        // from triggers. The queue's rows are written by havre's statements
        // only, a record with its rows in one statement and removed with
        // them in one (`havre_finish_attempt`, `queue_remove`), so the
        // references guard nothing those do not. The node's due records are
        // found through one index (the node first) instead of two kept.
        sql: "-- PostgreSQL only: SQLite checks its references in process.",
        postgres: r#"
DO $$
DECLARE
    v_constraint RECORD;
BEGIN
    -- By what they reference, not by name: a name PostgreSQL chose.
    FOR v_constraint IN
        SELECT c.conrelid::regclass AS child, c.conname
            FROM pg_constraint c
            WHERE c.contype = 'f' AND c.confrelid = 'queue_messages'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I',
                       v_constraint.child, v_constraint.conname);
    END LOOP;
END
$$;
DROP INDEX queue_node;
DROP INDEX queue_due;
CREATE INDEX queue_due ON queue_messages(node, hold, next_attempt);
CREATE OR REPLACE FUNCTION havre_finish_attempt(
    p_id TEXT, p_idx BIGINT[], p_status BIGINT[], p_reply TEXT[], p_next_attempt BIGINT,
    p_sent BIGINT, p_failed BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    v_removed BOOLEAN;
BEGIN
    -- A record whose recipients are all final after this attempt goes,
    -- its recipients and body with it, in one statement: their statuses
    -- need no writing first.
    WITH gone AS (
        DELETE FROM queue_messages m WHERE m.id = p_id
            AND NOT EXISTS (SELECT 1 FROM queue_recipients r
                            LEFT JOIN UNNEST(p_idx, p_status) AS u(idx, status) ON u.idx = r.idx
                            WHERE r.queue_id = p_id
                              AND COALESCE(u.status, r.status) NOT IN (p_sent, p_failed))
            RETURNING m.id),
    recipients AS (
        DELETE FROM queue_recipients WHERE queue_id = p_id AND EXISTS (SELECT 1 FROM gone)),
    body AS (
        DELETE FROM queue_bodies WHERE queue_id = p_id AND EXISTS (SELECT 1 FROM gone))
    SELECT EXISTS (SELECT 1 FROM gone) INTO v_removed;
    IF v_removed THEN
        RETURN TRUE;
    END IF;
    UPDATE queue_recipients r SET status = u.status, last_reply = u.reply
        FROM UNNEST(p_idx, p_status, p_reply) AS u(idx, status, reply)
        WHERE r.queue_id = p_id AND r.idx = u.idx;
    UPDATE queue_messages SET attempts = attempts + 1, next_attempt = p_next_attempt
        WHERE id = p_id;
    RETURN FALSE;
END
$$;
"#,
    },
    Migration {
        version: 23,
        name: "directory changes notified",
        // A node keeps recipients' entries it read (`postgres_entries.rs`)
        // while it hears of every change to what they are made of, by
        // whomever: the server says so to every node listening, at the
        // commit. A statement, not a row: a change of a thousand users is
        // one notification.
        sql: "-- PostgreSQL only: a SQLite node reads its entries in process.",
        postgres: r#"
CREATE FUNCTION havre_directory_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('havre_directory', '');
    RETURN NULL;
END
$$;
DO $$
DECLARE
    v_table TEXT;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['users', 'aliases', 'domains', 'class_quotas',
                                   'sieve_users', 'sieve_scripts'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                            FOR EACH STATEMENT EXECUTE FUNCTION havre_directory_changed()',
                       v_table || '_changed', v_table);
    END LOOP;
END
$$;
"#,
    },
];
