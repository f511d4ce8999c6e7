//! Stable codes for what an agent reports as failed, one vocabulary for the agent
//! (which sets them) and the control plane and CLI (which show them). Each has a page
//! under `docs/codes/` saying what happened, why and what to do.

/// A command's failure, as its result carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandError {
    /// The command reached the agent after its deadline; not run.
    CommandExpired,
    /// The agent does not know the command's kind (an older agent).
    CommandUnknown,
    /// Reading the link's state from SQL Server failed.
    LinkStatus,
}

impl CommandError {
    pub const ALL: [CommandError; 3] = [
        CommandError::CommandExpired,
        CommandError::CommandUnknown,
        CommandError::LinkStatus,
    ];

    /// The code as reports carry it and its page is named.
    pub const fn code(self) -> &'static str {
        match self {
            CommandError::CommandExpired => "AGENT-COMMAND-EXPIRED",
            CommandError::CommandUnknown => "AGENT-COMMAND-UNKNOWN",
            CommandError::LinkStatus => "AGENT-LINK-STATUS",
        }
    }

    pub fn parse(code: &str) -> Option<CommandError> {
        CommandError::ALL.into_iter().find(|e| e.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::CommandError;

    /// Every code has its page, and the index lists it.
    #[test]
    fn every_code_has_a_page() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/codes");
        let index = std::fs::read_to_string(docs.join("README.md")).unwrap();
        for error in CommandError::ALL {
            let code = error.code();
            let page = std::fs::read_to_string(docs.join(format!("{code}.md")))
                .unwrap_or_else(|e| panic!("docs/codes/{code}.md: {e}"));
            assert!(page.starts_with(&format!("# {code}")), "{code}");
            assert!(
                index.contains(&format!("[{code}.md]")),
                "{code} not in the index"
            );
            assert_eq!(CommandError::parse(code), Some(error));
        }
    }
}
