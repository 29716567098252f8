//! The sandbox's clock: real time plus an offset that tests and demos can move forward through
//! `/_sandbox/clock`, so code expiry, token expiry and rate-limit windows can be exercised without waiting.
//!
//! AccountView writes local Dutch time without a zone, so the clock also converts to Europe/Amsterdam.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};

#[derive(Debug, Default)]
pub struct Clock {
    offset_seconds: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Local Dutch wall-clock time, as AccountView stores `CNG_DATE`.
    pub fn local_now(&self) -> NaiveDateTime {
        amsterdam_local(self.now())
    }

    /// Moves the clock forward (or back, for a negative value) by some seconds.
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }

    /// Back to real time.
    pub fn reset(&self) {
        self.offset_seconds.store(0, Ordering::Relaxed);
    }

    pub fn offset_seconds(&self) -> i64 {
        self.offset_seconds.load(Ordering::Relaxed)
    }
}

/// Converts UTC to Europe/Amsterdam wall-clock time with the EU summer-time rule (last Sunday of March to last
/// Sunday of October, switching at 01:00 UTC). Hand-written because one rule is all the sandbox needs and a
/// time-zone database would double its build time.
pub fn amsterdam_local(instant: DateTime<Utc>) -> NaiveDateTime {
    let year = instant.year();
    let summer_starts = last_sunday_0100_utc(year, 3);
    let summer_ends = last_sunday_0100_utc(year, 10);
    let offset_hours = if instant >= summer_starts && instant < summer_ends {
        2
    } else {
        1
    };
    (instant + Duration::hours(offset_hours)).naive_utc()
}

fn last_sunday_0100_utc(year: i32, month: u32) -> DateTime<Utc> {
    // The last day of the month is the day before the first of the next one; every month in question has 31 days.
    let mut day = NaiveDate::from_ymd_opt(year, month, 31).unwrap_or_default();
    while day.weekday() != Weekday::Sun {
        day = day.pred_opt().unwrap_or(day);
    }
    Utc.from_utc_datetime(&day.and_hms_opt(1, 0, 0).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summer_and_winter_time() {
        let winter = Utc
            .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
            .single()
            .expect("valid instant");
        assert_eq!(amsterdam_local(winter).to_string(), "2026-01-15 13:00:00");
        let summer = Utc
            .with_ymd_and_hms(2026, 7, 15, 12, 0, 0)
            .single()
            .expect("valid instant");
        assert_eq!(amsterdam_local(summer).to_string(), "2026-07-15 14:00:00");
        // 2026's summer time starts on 29 March at 01:00 UTC.
        let before = Utc
            .with_ymd_and_hms(2026, 3, 29, 0, 59, 59)
            .single()
            .expect("valid instant");
        assert_eq!(amsterdam_local(before).to_string(), "2026-03-29 01:59:59");
        let after = Utc
            .with_ymd_and_hms(2026, 3, 29, 1, 0, 0)
            .single()
            .expect("valid instant");
        assert_eq!(amsterdam_local(after).to_string(), "2026-03-29 03:00:00");
    }
}
