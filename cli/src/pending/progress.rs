//! The progress line on stderr, shown once a scan reads more than one page:
//! a big account takes a while, and the operator should see it move.

use std::io::Write as _;

#[derive(Debug, Default)]
pub struct Progress {
    pages: usize,
    shown: bool,
}

impl Progress {
    /// A list page was read; `what` says how far the scan is.
    pub fn page(&mut self, what: &str) {
        self.pages += 1;
        self.show(what);
    }

    /// Another item (a history) was read.
    pub fn item(&mut self, what: &str) {
        self.show(what);
    }

    fn show(&mut self, what: &str) {
        if self.pages < 2 {
            return;
        }
        self.shown = true;
        let mut stderr = std::io::stderr().lock();
        // \r and the erase-line sequence keep it on one line.
        let _ = write!(stderr, "\r\x1b[2Kscanning: {what}");
        let _ = stderr.flush();
    }

    /// Ends the line, if one was shown.
    pub fn finish(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}
