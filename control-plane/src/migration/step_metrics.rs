//! How long the journal's steps take (`ferry.migration.step.duration`, seconds), by
//! step name and how it ended (done, failed, blocked, skipped): the failover's and the
//! verification's durations among them; and the steps that failed or were blocked, by
//! step and error code (`ferry.migration.step.failures`). Step names are the
//! journal's, a fixed set; error codes are [`error_code`]'s, bounded.

use std::sync::OnceLock;

use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;

use super::StepState;

struct StepInstruments {
    duration: Histogram<f64>,
    failures: Counter<u64>,
}

fn instruments() -> &'static StepInstruments {
    static INSTRUMENTS: OnceLock<StepInstruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("ferry-control");
        let instruments = StepInstruments {
            duration: meter
                .f64_histogram("ferry.migration.step.duration")
                .with_unit("s")
                .with_description("How long migration steps took, by step and outcome")
                .with_boundaries(vec![
                    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
                ])
                .build(),
            failures: meter
                .u64_counter("ferry.migration.step.failures")
                .with_unit("{step}")
                .with_description(
                    "Migration steps that failed or were blocked, by step and error code",
                )
                .build(),
        };
        // Shown at zero from the first step on, not only after a failure.
        instruments.failures.add(0, &[]);
        instruments
    })
}

/// Step `name` ended as `state` after `duration_ms` (None when it never started), with
/// `detail` (a failure's error).
pub fn finished(name: &str, state: StepState, duration_ms: Option<i64>, detail: &str) {
    let m = instruments();
    let step = KeyValue::new("step", name.to_string());
    if let Some(duration_ms) = duration_ms {
        m.duration.record(
            duration_ms.max(0) as f64 / 1000.0,
            &[step.clone(), KeyValue::new("outcome", state.as_str())],
        );
    }
    if matches!(state, StepState::Failed | StepState::Blocked) {
        m.failures
            .add(1, &[step, KeyValue::new("error.type", error_code(detail))]);
    }
}

/// A failure's code, from its detail as Ferry words it: SQL Server's error number
/// (`sql:19471`), ARM's error code (`arm:Conflict`; `arm:no_answer`), a code of
/// `docs/codes` (`AGENT-LINK-STATUS`), `credential`, `timeout`, `connect`; `other`.
pub fn error_code(detail: &str) -> String {
    if let Some(rest) = after(detail, "SQL Server error ") {
        let number: String = rest
            .chars()
            .take_while(char::is_ascii_digit)
            .take(10)
            .collect();
        if !number.is_empty() {
            return format!("sql:{number}");
        }
    }
    if let Some(rest) = after(detail, "ARM answered ") {
        // "{status} {code}: {message}"
        let code: String = rest
            .split_once(' ')
            .map(|(_, code)| code)
            .unwrap_or_default()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(64)
            .collect();
        if !code.is_empty() {
            return format!("arm:{code}");
        }
    }
    if detail.contains("ARM did not answer") {
        return "arm:no_answer".to_string();
    }
    if let Some(code) = ferry_proto::codes::CommandError::ALL
        .into_iter()
        .find(|e| detail.contains(e.code()))
    {
        return code.code().to_string();
    }
    let kinds = [
        ("signing in to Entra ID failed", "credential"),
        ("timed out after", "timeout"),
        ("cannot connect to", "connect"),
    ];
    kinds
        .into_iter()
        .find(|(words, _)| detail.contains(words))
        .map_or("other", |(_, code)| code)
        .to_string()
}

fn after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.find(prefix).map(|at| &text[at + prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::error_code;
    use proptest::prelude::*;

    #[test]
    fn codes_come_from_the_errors_words() {
        let cases = [
            ("create_link: SQL Server error 19471 (state 1, class 16) in create_ag: The WSFC cluster could not bring", "sql:19471"),
            ("ARM answered 409 Conflict: a link with this name exists", "arm:Conflict"),
            ("ARM answered 400 InvalidParameterValue.Name: bad", "arm:InvalidParameterValue.Name"),
            ("ARM did not answer: connection reset", "arm:no_answer"),
            ("AGENT-LINK-STATUS: reading the DMVs failed", "AGENT-LINK-STATUS"),
            ("signing in to Entra ID failed: AADSTS7000215", "credential"),
            ("backup_log timed out after 30s", "timeout"),
            ("cannot connect to 10.0.0.4:1433: refused", "connect"),
            ("SQL Server error : nothing", "other"),
            ("ARM answered 500", "other"),
            ("", "other"),
        ];
        for (detail, code) in cases {
            assert_eq!(error_code(detail), code, "{detail}");
        }
    }

    proptest! {
        /// Whatever the detail, the code is short and made of a bounded alphabet: a
        /// hostile or garbled message cannot blow up the label's cardinality by size.
        #[test]
        fn codes_are_short_and_plain(detail in ".{0,300}") {
            let code = error_code(&detail);
            prop_assert!(!code.is_empty() && code.len() <= 68, "{code:?}");
            prop_assert!(code.chars().all(|c| c.is_ascii_alphanumeric() || ":._-".contains(c)), "{code:?}");
        }
    }
}
