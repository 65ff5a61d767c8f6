//! The emulator's adjustable clock.
//!
//! Everything time-dependent (token expiry, `Modified_Time`, invoice due dates going
//! overdue, notification channel expiry, rate-limit windows) reads this clock, never the
//! system clock directly, so a test can jump days ahead with `POST /__emulator/clock`.
//! The clock is real time plus an offset: it keeps ticking between jumps.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{Timestamp, tz::Offset};

/// Real time shifted by an adjustable offset, rendered in the org's UTC offset.
#[derive(Debug)]
pub struct Clock {
    offset_ms: AtomicI64,
    utc_offset: Offset,
}

impl Clock {
    /// A clock that starts at real time; timestamps are rendered at `utc_offset_minutes`.
    pub fn new(utc_offset_minutes: i32) -> Self {
        Clock { offset_ms: AtomicI64::new(0), utc_offset: Offset::from_seconds(utc_offset_minutes * 60).unwrap_or(Offset::UTC) }
    }

    /// The emulated "now".
    pub fn now(&self) -> Timestamp {
        let real = Timestamp::now().as_millisecond();
        Timestamp::from_millisecond(real + self.offset_ms.load(Ordering::Relaxed)).unwrap_or(Timestamp::MAX)
    }

    /// The emulated "now" in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.now().as_millisecond()
    }

    /// Moves the clock forward (or back, with a negative value).
    pub fn advance_ms(&self, delta_ms: i64) {
        self.offset_ms.fetch_add(delta_ms, Ordering::Relaxed);
    }

    /// Sets the clock so that "now" is `at`; it keeps ticking from there.
    pub fn set(&self, at: Timestamp) {
        let real = Timestamp::now().as_millisecond();
        self.offset_ms.store(at.as_millisecond() - real, Ordering::Relaxed);
    }

    /// The current offset from real time, kept in state snapshots.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Restores an offset from a snapshot.
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }

    /// The org's UTC offset.
    pub fn utc_offset(&self) -> Offset {
        self.utc_offset
    }

    /// CRM's date-time form: `2023-05-10T01:10:47-07:00` (colon in the offset).
    pub fn crm_datetime(&self, ts: Timestamp) -> String {
        ts.to_zoned(self.utc_offset.to_time_zone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// Books' timestamp form: `2013-11-18T02:17:40-0800` (no colon in the offset).
    pub fn books_datetime(&self, ts: Timestamp) -> String {
        ts.to_zoned(self.utc_offset.to_time_zone()).strftime("%Y-%m-%dT%H:%M:%S%z").to_string()
    }

    /// The calendar date (`yyyy-mm-dd`) of `ts` in the org's offset.
    pub fn date(&self, ts: Timestamp) -> String {
        ts.to_zoned(self.utc_offset.to_time_zone()).strftime("%Y-%m-%d").to_string()
    }

    /// Today's date in the org's offset.
    pub fn today(&self) -> String {
        self.date(self.now())
    }
}

/// Parses a date-time as Zoho clients send it: RFC 3339 (`...+05:30`, `...Z`) or
/// Books' `...+0530` form. Returns `None` when it is neither.
pub fn parse_datetime(s: &str) -> Option<Timestamp> {
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts);
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%z", s).ok().and_then(|t| t.to_timestamp().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_zoho_forms_and_parses_them_back() {
        let clock = Clock::new(-7 * 60);
        let ts: Timestamp = "2023-05-10T08:10:47Z".parse().unwrap();
        assert_eq!(clock.crm_datetime(ts), "2023-05-10T01:10:47-07:00");
        assert_eq!(clock.books_datetime(ts), "2023-05-10T01:10:47-0700");
        assert_eq!(parse_datetime("2023-05-10T01:10:47-07:00"), Some(ts));
        assert_eq!(parse_datetime("2023-05-10T01:10:47-0700"), Some(ts));
        assert_eq!(parse_datetime("yesterday"), None);
    }

    #[test]
    fn advancing_moves_now_and_date() {
        let clock = Clock::new(0);
        let before = clock.now_ms();
        clock.advance_ms(3 * 86_400_000);
        assert!(clock.now_ms() - before >= 3 * 86_400_000);
    }
}
