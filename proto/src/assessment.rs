//! The readiness checks' vocabulary, shared by the agent (which runs the checks) and the
//! control plane (which rolls them up); on the wire these are the strings `as_str` gives.

/// What a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Instance,
    Database,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Instance => "instance",
            Scope::Database => "database",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Some(match text {
            "instance" => Scope::Instance,
            "database" => Scope::Database,
            _ => return None,
        })
    }
}

/// A blocker makes the databases it touches Not ready; a warning leaves them Ready with
/// warnings; info is advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Blocker,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Blocker => "blocker",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "blocker" => Severity::Blocker,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in [Severity::Info, Severity::Warning, Severity::Blocker] {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        for s in [Scope::Instance, Scope::Database] {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Severity::parse("fatal"), None);
    }
}
