//! Ferry's wire contract, generated from `ferry/**/*.proto` at build time.
//!
//! - [`agent::v1`]: enrollment, certificate renewal and the agent session.
//! - [`operator::v1`]: the operator API behind the `ferry` CLI.
//! - [`assessment`]: the readiness checks' scope and severity words.
//! - [`link_names`]: the names of the MI link's objects (`AG_<db>`, `DAG_<db>`, ...).
//! - [`link_steps`]: the link's journaled steps, one vocabulary for agent and control plane.
//! - [`codes`]: stable codes of the agent's failures, each with a page in docs/codes.
//! - [`private_files`]: owner-only state folders and files, and secrets read only so.
//! - [`clock`]: Unix milliseconds, the unit of every timestamp on the wire and stored.
//! - [`telemetry`]: logging and tracing set-up shared by the binaries.
//! - [`renewal_proof`]: how an agent with an expired certificate proves its key.
//! - [`token`]: the enrollment token format (id, secret, pinned CA fingerprint).
//! - [`tsql`]: T-SQL identifiers and literals, quoted.
//! - [`transport`]: dialling the control plane over TLS with a chosen rustls config.

pub mod agent {
    pub mod v1 {
        tonic::include_proto!("ferry.agent.v1");
    }
}

pub mod operator {
    pub mod v1 {
        tonic::include_proto!("ferry.operator.v1");
    }
}

pub mod assessment;
pub mod clock;
pub mod codes;
pub mod link_names;
pub mod link_steps;
pub mod private_files;
pub mod renewal_proof;
pub mod telemetry;
pub mod token;
pub mod transport;
pub mod tsql;
