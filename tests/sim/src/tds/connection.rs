//! One client connection: PRELOGIN and the encryption it agrees, LOGIN7 checked against
//! the instance's logins, then SQL batches and RPCs until the client leaves. A batch
//! runs on a blocking thread while a reader task watches for Attention, which stops it.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::engine::{errors, Cancel, Instance, Output, Session};

use super::login::{self, Login};
use super::packet::{self, ClientMessage, DEFAULT_PACKET_SIZE};
use super::prelogin::{self, Encryption};
use super::rpc;
use super::tls::PreloginFramed;
use super::tokens::{DoneKind, Message, Tokens, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_MORE};

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

fn protocol(text: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, text.to_string())
}

pub async fn serve(
    mut tcp: TcpStream,
    instance: Arc<Instance>,
    tls: Arc<rustls::ServerConfig>,
) -> io::Result<()> {
    let _ = tcp.set_nodelay(true);
    let first = packet::read_message(&mut tcp)
        .await?
        .ok_or_else(|| protocol("closed before PRELOGIN"))?;
    if first.kind != packet::PRELOGIN {
        return Err(protocol(
            "the first message is not PRELOGIN (TDS 8.0 strict encryption is not modelled)",
        ));
    }
    let client = prelogin::client_encryption(&first.payload).map_err(protocol)?;
    let version = instance.info.build.wire_version();
    let Some((answer, mode)) = prelogin::negotiate(client, instance.info.force_encryption) else {
        packet::write_message(
            &mut tcp,
            &prelogin::response(version, prelogin::ENCRYPT_REQ),
            DEFAULT_PACKET_SIZE,
            0,
        )
        .await?;
        return Ok(());
    };
    packet::write_message(
        &mut tcp,
        &prelogin::response(version, answer),
        DEFAULT_PACKET_SIZE,
        0,
    )
    .await?;

    let (stream, login_message): (Box<dyn Io>, ClientMessage) = match mode {
        Encryption::None => {
            let login = packet::read_message(&mut tcp)
                .await?
                .ok_or_else(|| protocol("closed before LOGIN7"))?;
            (Box::new(tcp), login)
        }
        Encryption::Full => {
            let mut tls_stream = TlsAcceptor::from(tls)
                .accept(PreloginFramed::new(tcp))
                .await?;
            tls_stream.get_mut().0.handshaking = false;
            let login = packet::read_message(&mut tls_stream)
                .await?
                .ok_or_else(|| protocol("closed before LOGIN7"))?;
            (Box::new(tls_stream), login)
        }
        Encryption::LoginOnly => {
            let mut tls_stream = TlsAcceptor::from(tls)
                .accept(PreloginFramed::new(tcp))
                .await?;
            tls_stream.get_mut().0.handshaking = false;
            let login = packet::read_message(&mut tls_stream)
                .await?
                .ok_or_else(|| protocol("closed before LOGIN7"))?;
            // Only LOGIN7 is encrypted: the rest of the connection is plain TDS.
            let (framed, _) = tls_stream.into_inner();
            (Box::new(framed.inner), login)
        }
    };
    if login_message.kind != packet::LOGIN7 {
        return Err(protocol("expected LOGIN7 after PRELOGIN"));
    }
    let (mut reader, mut writer) = tokio::io::split(stream);
    let login = login::parse(&login_message.payload).map_err(protocol)?;
    let (session, packet_size, reply) = match log_in(&instance, &login) {
        Ok((session, reply, packet_size)) => (session, packet_size, reply),
        Err(reply) => {
            packet::write_message(&mut writer, &reply.bytes, DEFAULT_PACKET_SIZE, 0).await?;
            return Ok(());
        }
    };
    let spid = session.spid;
    packet::write_message(&mut writer, &reply.bytes, packet_size, spid).await?;

    // A reader task, so that Attention is seen while a batch runs.
    let (messages_tx, mut messages) = mpsc::channel::<io::Result<ClientMessage>>(4);
    tokio::spawn(async move {
        loop {
            let next = packet::read_message(&mut reader).await.transpose();
            let Some(next) = next else { return };
            let failed = next.is_err();
            if messages_tx.send(next).await.is_err() || failed {
                return;
            }
        }
    });

    let mut session = Some(session);
    while let Some(message) = messages.recv().await {
        let message = message?;
        let request = match message.kind {
            packet::SQL_BATCH => {
                Request::Batch(rpc::decode_utf16(rpc::skip_all_headers(&message.payload)))
            }
            packet::RPC => match rpc::parse(&message.payload) {
                Ok(call) => Request::Rpc(call),
                Err(e) => Request::Failed(errors::internal(&e)),
            },
            packet::ATTENTION => {
                let mut t = Tokens::default();
                t.done(DoneKind::Done, DONE_ATTN, 0, 0);
                packet::write_message(&mut writer, &t.bytes, packet_size, spid).await?;
                continue;
            }
            _ => return Err(protocol("unexpected TDS message type")),
        };
        let cancel = Cancel::default();
        let job_cancel = cancel.clone();
        let mut owned = session
            .take()
            .expect("the session is returned after every request");
        let mut job = tokio::task::spawn_blocking(move || {
            let tokens = run(&mut owned, request, &job_cancel);
            (owned, tokens)
        });
        let mut attention = false;
        let (returned, tokens) = loop {
            tokio::select! {
                done = &mut job => break done.map_err(|e| io::Error::other(e.to_string()))?,
                next = messages.recv(), if !attention => match next {
                    Some(Ok(m)) if m.kind == packet::ATTENTION => { attention = true; cancel.cancel(); }
                    _ => { cancel.cancel(); attention = true; }
                },
            }
        };
        session = Some(returned);
        let bytes = if attention {
            let mut t = Tokens::default();
            t.done(DoneKind::Done, DONE_ATTN, 0, 0);
            t.bytes
        } else {
            tokens.bytes
        };
        packet::write_message(&mut writer, &bytes, packet_size, spid).await?;
    }
    Ok(())
}

enum Request {
    Batch(String),
    Rpc(rpc::RpcCall),
    Failed(Message),
}

/// Checks LOGIN7; the session and the login reply, or the reply refusing it.
fn log_in(instance: &Arc<Instance>, login: &Login) -> Result<(Session, Tokens, usize), Tokens> {
    let server = instance.info.name.clone();
    let refuse = |messages: Vec<Message>| {
        let mut t = Tokens::default();
        for m in &messages {
            t.message(m, &server);
        }
        t.done(DoneKind::Done, DONE_ERROR, 0, 0);
        t
    };
    if login.integrated_security {
        return Err(refuse(vec![Message::new(18452, 1, 14, "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication.")]));
    }
    let Some(account) = instance.authenticate(&login.username, &login.password) else {
        return Err(refuse(vec![errors::login_failed(&login.username)]));
    };
    let session = Session::open(instance.clone(), account, &login.database)
        .map_err(|m| refuse(vec![m, errors::login_failed(&login.username)]))?;
    let packet_size = match login.packet_size {
        0 => DEFAULT_PACKET_SIZE,
        n => (n as usize).clamp(512, 32767),
    };
    let mut t = Tokens::default();
    t.env_change_text(1, &session.database, "master");
    t.message(
        &Message::new(
            5701,
            2,
            0,
            format!("Changed database context to '{}'.", session.database),
        ),
        &server,
    );
    t.env_change_collation(instance.info.collation_bytes);
    t.env_change_text(2, "us_english", "");
    t.message(
        &Message::new(5703, 1, 0, "Changed language setting to us_english."),
        &server,
    );
    t.login_ack(
        login::negotiated_version(login.tds_version),
        instance.info.build.wire_version(),
    );
    t.env_change_text(
        4,
        &packet_size.to_string(),
        &DEFAULT_PACKET_SIZE.to_string(),
    );
    if login.has_feature_ext {
        t.feature_ext_ack();
    }
    t.done(DoneKind::Done, 0, 0, 0);
    Ok((session, t, packet_size))
}

fn run(session: &mut Session, request: Request, cancel: &Cancel) -> Tokens {
    let server = session_server_name(session);
    match request {
        Request::Batch(sql) => render(
            session.execute(&sql, Vec::new(), cancel),
            DoneKind::Done,
            &server,
            session,
        ),
        Request::Rpc(call) if call.procedure.is_executesql() => {
            let mut params = call.params.into_iter();
            let sql = match params.next() {
                Some((_, crate::tds::types::Value::Text(sql))) => sql,
                _ => return rpc_failure(
                    Message::new(
                        214,
                        2,
                        16,
                        "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.",
                    ),
                    &server,
                ),
            };
            let _declarations = params.next();
            let outputs = session.execute(&sql, params.collect(), cancel);
            let failed = outputs
                .iter()
                .any(|o| matches!(o, Output::Done { error: true, .. }));
            let mut t = render(outputs, DoneKind::DoneInProc, &server, session);
            t.return_status(0);
            t.done(
                DoneKind::DoneProc,
                if failed { DONE_ERROR } else { 0 },
                0,
                0,
            );
            t
        }
        Request::Rpc(call) => rpc_failure(
            errors::no_procedure(&call.procedure.display_name()),
            &server,
        ),
        Request::Failed(message) => rpc_failure(message, &server),
    }
}

fn session_server_name(session: &Session) -> String {
    session.server_name()
}

fn rpc_failure(message: Message, server: &str) -> Tokens {
    let mut t = Tokens::default();
    t.message(&message, server);
    t.done(DoneKind::DoneProc, DONE_ERROR, 0, 0);
    t
}

/// Outputs as tokens. Every DONE but a batch's last carries DONE_MORE; inside a
/// procedure they are DONEINPROC and the caller ends with DONEPROC.
fn render(outputs: Vec<Output>, kind: DoneKind, server: &str, session: &Session) -> Tokens {
    let collation = session.collation();
    let mut t = Tokens::default();
    let last_done = outputs
        .iter()
        .rposition(|o| matches!(o, Output::Done { .. }));
    let needs_final = kind == DoneKind::Done && last_done.is_none_or(|at| at + 1 != outputs.len());
    for (n, output) in outputs.iter().enumerate() {
        match output {
            Output::Rows { columns, rows } => {
                t.col_metadata(columns, collation);
                let types: Vec<_> = columns.iter().map(|c| c.1).collect();
                for row in rows {
                    t.row(&types, row, collation);
                }
            }
            Output::Message(m) => t.message(m, server),
            Output::DatabaseChanged { new, old } => t.env_change_text(1, new, old),
            Output::Done { rows, error } => {
                let mut status = 0;
                if kind == DoneKind::DoneInProc || Some(n) != last_done || needs_final {
                    status |= DONE_MORE;
                }
                if rows.is_some() {
                    status |= DONE_COUNT;
                }
                if *error {
                    status |= DONE_ERROR;
                }
                t.done(kind, status, 0xC1, rows.unwrap_or(0));
            }
        }
    }
    if needs_final {
        t.done(DoneKind::Done, 0, 0, 0);
    }
    t
}
