//! Reading a message body from the connection: DATA (through the codec's
//! [`DotDecoder`]) and BDAT chunks (exact byte counts, no unstuffing).

use havre_smtp_codec::DotDecoder;

use havre_net::{Conn, ConnError};

/// Where unstuffed body bytes go; returns false once the size limit is passed
/// (the rest is then read and dropped).
pub trait BodySink {
    fn accept(&mut self, bytes: &[u8]) -> impl Future<Output = bool> + Send;
}

/// Reads DATA until the end marker, feeding `sink`. Returns false when the
/// sink refused bytes (too big); the whole body is consumed either way.
pub async fn read_data(conn: &mut Conn, sink: &mut impl BodySink) -> Result<bool, ConnError> {
    let mut decoder = DotDecoder::default();
    let mut within_limit = true;
    loop {
        if !conn.has_buffered() {
            conn.fill().await?;
        }
        let (used, done) = decoder.decode(conn.buffered());
        conn.consume(used);
        let chunk = decoder.take();
        if within_limit && !chunk.is_empty() {
            within_limit = sink.accept(&chunk).await;
        }
        if done {
            return Ok(within_limit);
        }
    }
}

/// Reads exactly `size` bytes of a BDAT chunk into `sink` (or drops them when
/// `sink` is `None`: a chunk must be consumed even when it is refused).
pub async fn read_chunk<S: BodySink>(
    conn: &mut Conn,
    mut size: usize,
    mut sink: Option<&mut S>,
) -> Result<bool, ConnError> {
    let mut within_limit = true;
    while size > 0 {
        if !conn.has_buffered() {
            conn.fill().await?;
        }
        let n = conn.buffered().len().min(size);
        if let Some(sink) = sink.as_mut()
            && within_limit
        {
            within_limit = sink.accept(&conn.buffered()[..n]).await;
        }
        conn.consume(n);
        size -= n;
    }
    Ok(within_limit)
}
