#[cfg(unix)]
mod cups;
mod escpos;
mod notice;
mod sheet;
mod support;
mod ticket;
