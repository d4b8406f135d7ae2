//! [`Socket`]: the connections the hub's own transport runs sessions on —
//! plain TCP, and (feature `tls`) TLS over TCP terminated by rustls.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connection a session can run on: read and written from two halves
/// (the session's reader and its writer task).
pub trait Socket: AsyncRead + AsyncWrite + Unpin + 'static {
    /// The read half.
    type Read: AsyncRead + Unpin + 'static;
    /// The write half.
    type Write: AsyncWrite + Unpin + 'static;

    /// The TCP connection underneath.
    fn tcp(&self) -> &TcpStream;

    /// The client's address.
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.tcp().peer_addr().ok()
    }

    /// Splits the connection for its reader and writer.
    fn split(self) -> (Self::Read, Self::Write);
}

impl Socket for TcpStream {
    type Read = tokio::net::tcp::OwnedReadHalf;
    type Write = tokio::net::tcp::OwnedWriteHalf;

    fn tcp(&self) -> &TcpStream {
        self
    }

    /// Free: two handles on one socket.
    fn split(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

#[cfg(feature = "tls")]
impl Socket for tokio_rustls::server::TlsStream<TcpStream> {
    type Read = tokio::io::ReadHalf<Self>;
    type Write = tokio::io::WriteHalf<Self>;

    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }

    /// One TLS state shared by both halves (behind a lock that the reader
    /// and the writer each take only while they run).
    fn split(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}
