//! Integration tests of frontdesk-print with real tools: poppler (pdftoppm, pdftotext,
//! pdfinfo), zbar (zbarimg) and CUPS (cupsd, lp, lpadmin, lpstat). A missing tool fails the
//! test with the package to install (see scripts/apt-packages.txt); nothing is skipped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic with its message is how a check fails, helpers included"
)]

mod suite;
