//! What `/proc/PID/stat` says of a process: its state and its process group.
//!
//! The client uses it to name a daemon that is stopped, headroomd's guard to resume one,
//! and the end-to-end tests to check both.

/// The fields of one `/proc/PID/stat` line that headroom reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The state letter: `R` running, `S` sleeping, `T` stopped by a signal, `t` stopped by
    /// a debugger, `Z` a zombie, … (proc(5)).
    pub state: char,
    /// The process group.
    pub pgrp: i32,
}

impl ProcStat {
    /// Reads process `pid`'s line; `None` when there is no such process or the line cannot
    /// be parsed.
    pub fn read(pid: u32) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Parses a `/proc/PID/stat` line. The fields are read after the command name, which is
    /// in parentheses and may itself hold spaces and parentheses.
    pub fn parse(line: &str) -> Option<Self> {
        let (_, rest) = line.rsplit_once(')')?;
        let mut fields = rest.split_whitespace();
        let mut state = fields.next()?.chars();
        let (Some(state), None) = (state.next(), state.next()) else {
            return None;
        };
        let _ppid = fields.next()?;
        let pgrp = fields.next()?.parse().ok()?;
        Some(Self { state, pgrp })
    }

    /// Whether the process is stopped by a signal (`T`; a debugger's stop, `t`, is not
    /// counted).
    pub fn stopped_by_signal(&self) -> bool {
        self.state == 'T'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_are_read_after_the_command_name_whatever_it_holds() {
        let s = ProcStat::parse("1234 (headroomd) T 1 1230 1234 0").unwrap();
        assert_eq!((s.state, s.pgrp), ('T', 1230));
        assert!(s.stopped_by_signal());
        let s = ProcStat::parse("1234 (a) b) (c) S 1 2 3").unwrap();
        assert_eq!((s.state, s.pgrp), ('S', 2));
        let s = ProcStat::parse("77 (x y) t 1 9").unwrap();
        assert_eq!((s.state, s.pgrp), ('t', 9));
        assert!(!s.stopped_by_signal());
        assert_eq!(ProcStat::parse("garbage"), None);
        assert_eq!(ProcStat::parse("5 (x)"), None);
        assert_eq!(ProcStat::parse("5 (x) S 1"), None, "no process group");
        assert_eq!(
            ProcStat::parse("5 (x) SS 1 2"),
            None,
            "a state is one letter"
        );
        assert_eq!(ProcStat::parse("5 (x) S 1 pg"), None);
    }

    #[test]
    fn this_process_is_read_as_running_in_its_own_group() {
        let me = ProcStat::read(std::process::id()).expect("own stat");
        assert!(matches!(me.state, 'R' | 'S'), "{me:?}");
        assert_eq!(me.pgrp, nix::unistd::getpgrp().as_raw());
        assert!(ProcStat::read(u32::MAX).is_none());
    }
}
