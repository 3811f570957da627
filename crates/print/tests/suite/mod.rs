#[cfg(unix)]
mod cups;
mod escpos;
mod sheet;
mod support;
mod ticket;
