//! TLS inside TDS: during the handshake each TLS record travels in PRELOGIN packets
//! (MS-TDS 3.2.5.2); once it completes, TLS records flow on the socket directly.
//! [`PreloginFramed`] does the framing while `handshaking` is set, so tokio-rustls can
//! run the handshake over it. The lab's certificate is self-signed, made at start.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::packet::{header, HEADER_LEN, PRELOGIN, STATUS_EOM};

/// A self-signed server certificate for every instance of a lab.
pub fn server_config(names: Vec<String>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certified = rcgen::generate_simple_self_signed(names)?;
    let key = rustls_pki_types_key(certified.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        // SQL Server speaks TLS 1.3 only over TDS 8.0 (strict encryption); a TDS 7.x
        // handshake inside PRELOGIN is TLS 1.2. Clients depend on it: in TLS 1.3 the
        // client's Finished is its last handshake flight, which FreeTDS leaves unflushed
        // in its PRELOGIN buffer and then sends inside the encrypted LOGIN7.
        .with_protocol_versions(&[&rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)?;
    Ok(Arc::new(config))
}

fn rustls_pki_types_key(der: Vec<u8>) -> rustls::pki_types::PrivateKeyDer<'static> {
    rustls::pki_types::PrivateKeyDer::Pkcs8(der.into())
}

pub struct PreloginFramed<S> {
    pub inner: S,
    pub handshaking: bool,
    header: [u8; HEADER_LEN],
    header_filled: usize,
    /// Payload bytes left in the packet being read.
    remaining: usize,
    /// Framed bytes not yet written to the socket.
    pending: Vec<u8>,
    /// Bytes read as a header that turned out to be TLS, to hand over first.
    leftover: Vec<u8>,
}

impl<S> PreloginFramed<S> {
    pub fn new(inner: S) -> Self {
        PreloginFramed {
            inner,
            handshaking: true,
            header: [0; HEADER_LEN],
            header_filled: 0,
            remaining: 0,
            pending: Vec::new(),
            leftover: Vec::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> PreloginFramed<S> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PreloginFramed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.leftover.is_empty() {
            let n = buf.remaining().min(this.leftover.len());
            buf.put_slice(&this.leftover[..n]);
            this.leftover.drain(..n);
            return Poll::Ready(Ok(()));
        }
        if !this.handshaking {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        while this.remaining == 0 {
            let mut header = ReadBuf::new(&mut this.header[this.header_filled..]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut header))?;
            let n = header.filled().len();
            if n == 0 {
                return Poll::Ready(Ok(()));
            }
            this.header_filled += n;
            if this.header_filled == HEADER_LEN {
                this.header_filled = 0;
                if this.header[0] != PRELOGIN {
                    // The client finished its handshake and sent TLS records unframed
                    // (TLS records start 0x14-0x17, PRELOGIN packets 0x12). TLS readers
                    // read ahead, so this can happen before the acceptor returns.
                    this.handshaking = false;
                    this.leftover = this.header.to_vec();
                    return self.poll_read(cx, buf);
                }
                let length = u16::from_be_bytes([this.header[2], this.header[3]]) as usize;
                this.remaining = length.saturating_sub(HEADER_LEN);
            }
        }
        let want = buf.remaining().min(this.remaining);
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(want));
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
        let n = limited.filled().len();
        buf.advance(n);
        this.remaining -= n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PreloginFramed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if !this.handshaking {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let take = buf.len().min(4096 - HEADER_LEN);
        this.pending
            .extend_from_slice(&header(PRELOGIN, STATUS_EOM, take + HEADER_LEN, 0, 1));
        this.pending.extend_from_slice(&buf[..take]);
        Poll::Ready(Ok(take))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
