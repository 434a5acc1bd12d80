//! In-memory stdout and stderr for guests, capped per invocation.
//!
//! wasmtime-wasi's `MemoryOutputPipe` closes the stream once it is full, and
//! Rust's `println!` panics on a closed stdout, so a chatty guest would
//! trap. [`CapturedOutput`] instead accepts every write, keeps the first
//! bytes up to its cap and counts the rest.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The number of bytes `check-write` permits per write. Guests split larger
/// writes into chunks of at most this size.
const WRITE_PERMIT_BYTES: usize = 64 << 10;

/// A capped in-memory output stream. Clones share one buffer.
#[derive(Debug, Clone)]
pub(super) struct CapturedOutput {
    inner: Arc<Mutex<Buffer>>,
}

#[derive(Debug)]
struct Buffer {
    bytes: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl CapturedOutput {
    /// Creates an empty stream that keeps at most `cap` bytes.
    pub(super) fn new(cap: usize) -> Self {
        let buffer = Buffer {
            bytes: Vec::new(),
            cap,
            dropped: 0,
        };
        Self {
            inner: Arc::new(Mutex::new(buffer)),
        }
    }

    /// Appends what fits under the cap and counts the rest as dropped.
    fn append(&self, data: &[u8]) {
        let mut buffer = self.lock();
        let room = buffer.cap.saturating_sub(buffer.bytes.len());
        let stored_len = data.len().min(room);
        buffer.bytes.extend_from_slice(&data[..stored_len]);
        buffer.dropped += data.len() - stored_len;
    }

    /// Returns the stored text, decoded lossily, and the number of bytes
    /// dropped after the cap.
    pub(super) fn contents(&self) -> (String, usize) {
        let buffer = self.lock();
        (
            String::from_utf8_lossy(&buffer.bytes).into_owned(),
            buffer.dropped,
        )
    }

    /// Locks the buffer. A panic while holding the lock cannot leave the
    /// buffer inconsistent, so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT_BYTES)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_beyond_cap_counted() {
        let mut output = CapturedOutput::new(5);
        output.write(Bytes::from_static(b"abc")).unwrap();
        output.write(Bytes::from_static(b"defg")).unwrap();
        output.write(Bytes::from_static(b"h")).unwrap();

        let (text, dropped) = output.contents();
        assert_eq!(text, "abcde");
        assert_eq!(dropped, 3);
        assert!(output.check_write().unwrap() > 0);
    }
}
