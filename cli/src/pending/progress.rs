//! The progress line on stderr, shown once a list answers with a `nextToken`
//! (the scan spans more than one page): a big account takes a while, and the
//! operator should see it move. A small scan prints nothing.

use std::io::Write as _;

#[derive(Debug, Default)]
pub struct Progress {
    paged: bool,
    shown: bool,
    width: usize,
}

impl Progress {
    /// A list page was read, `more` if another follows; `what` says how far
    /// the scan is.
    pub fn page(&mut self, what: &str, more: bool) {
        self.paged |= more;
        self.show(what);
    }

    /// Another item (a history) was read.
    pub fn item(&mut self, what: &str) {
        self.show(what);
    }

    fn show(&mut self, what: &str) {
        if !self.paged {
            return;
        }
        self.shown = true;
        let line = format!("scanning: {what}");
        // \r and padding over the last line keep it on one line.
        let pad = self.width.saturating_sub(line.len());
        self.width = line.len();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{line}{:pad$}", "");
        let _ = stderr.flush();
    }

    /// Prints `line` (a warning or a note) on a line of its own; the progress
    /// line, if shown, continues below it.
    pub fn say(&mut self, line: &str) {
        self.finish();
        self.width = 0;
        eprintln!("{line}");
    }

    /// Ends the line, if one was shown.
    pub fn finish(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}
