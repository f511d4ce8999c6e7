//! The TDS 7.4 server side, as MS-TDS specifies it.
//!
//! - `packet`: framing and reassembly.
//! - `prelogin`: options and the encryption decision.
//! - `tls`: TLS carried in PRELOGIN packets during the handshake.
//! - `login`: the LOGIN7 record.
//! - `rpc`: RPC requests (sp_executesql) and their typed parameters.
//! - `tokens`: the response token stream.
//! - `types`: data types, their TYPE_INFO and value encodings.
//! - `connection`: one client connection from PRELOGIN to the last request.

pub mod connection;
pub mod login;
pub mod packet;
pub mod prelogin;
pub mod rpc;
pub mod tls;
pub mod tokens;
pub mod types;
