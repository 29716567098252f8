//! CPU time used by a process, read from `/proc` (Linux; `None` elsewhere). On a shared 2-core machine
//! requests per second move with whatever else runs, while CPU time per request mostly does not.

use std::time::Duration;

/// User plus system CPU time of a process so far: `"self"` or a pid.
pub fn cpu_time(process: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    // The command name in field 2 may contain spaces, so count fields after its closing parenthesis:
    // there, utime and stime (fields 14 and 15) are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user_ticks: u64 = fields.get(11)?.parse().ok()?;
    let system_ticks: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (user_ticks + system_ticks) as f64 / ticks_per_second(),
    ))
}

/// CPU time used between two readings of [`cpu_time`]; `None` when either is missing.
pub fn spent(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    after?.checked_sub(before?)
}

#[cfg(unix)]
#[allow(unsafe_code)] // one libc call, see SAFETY below
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[cfg(not(unix))]
fn ticks_per_second() -> f64 {
    100.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_used_some_cpu_time_on_linux() {
        if cfg!(target_os = "linux") {
            let spin_until = std::time::Instant::now() + std::time::Duration::from_millis(30);
            while std::time::Instant::now() < spin_until {}
            assert!(super::cpu_time("self").is_some_and(|time| !time.is_zero()));
        }
    }
}
