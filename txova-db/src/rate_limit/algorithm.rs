//! The three algorithms, once as Lua (run on Redis with the server's clock, one round
//! trip per check) and once in Rust (run on the embedded store under its shard lock).
//! Both keep their state in a hash and work in whole microseconds, so they decide alike.

use std::collections::HashMap;

/// What one check decided, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) allowed: bool,
    pub(crate) remaining: u64,
    pub(crate) reset_us: u64,
    pub(crate) retry_after_us: u64,
}

/// Fixed window: a counter per aligned window of `window` µs; calls past `limit` in a
/// window are refused (and not counted).
#[cfg(feature = "redis")]
pub(crate) const FIXED_WINDOW_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local win = math.floor(now / window)
local state = redis.call('HMGET', KEYS[1], 'w', 'c')
local count = 0
if tonumber(state[1]) == win then count = tonumber(state[2]) or 0 end
local reset = (win + 1) * window - now
if count < limit then
  count = count + 1
  redis.call('HSET', KEYS[1], 'w', win, 'c', count)
  redis.call('PEXPIRE', KEYS[1], math.ceil(reset / 1000) + 1)
  return {1, limit - count, reset, 0}
end
return {0, 0, reset, reset}
";

pub(crate) fn fixed_window(
    state: &mut HashMap<String, String>,
    now: u64,
    limit: u64,
    window: u64,
) -> Verdict {
    let win = now / window;
    let count = if field(state, "w") == Some(win) {
        field(state, "c").unwrap_or(0)
    } else {
        0
    };
    let reset_us = (win + 1) * window - now;
    if count < limit {
        state.insert("w".into(), win.to_string());
        state.insert("c".into(), (count + 1).to_string());
        Verdict {
            allowed: true,
            remaining: limit - count - 1,
            reset_us,
            retry_after_us: 0,
        }
    } else {
        Verdict {
            allowed: false,
            remaining: 0,
            reset_us,
            retry_after_us: reset_us,
        }
    }
}

/// Sliding window, approximated from two fixed windows: the previous window's count
/// weighted by how much of it the sliding window still covers, plus the current
/// window's count (Cloudflare's counter approximation).
#[cfg(feature = "redis")]
pub(crate) const SLIDING_WINDOW_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local win = math.floor(now / window)
local elapsed = now - win * window
local state = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(state[1])
local c = tonumber(state[2]) or 0
local p = tonumber(state[3]) or 0
if w == win then
elseif w == win - 1 then p = c; c = 0
else p = 0; c = 0 end
local estimate = p * (window - elapsed) / window + c
if estimate + 1 <= limit then
  c = c + 1
  redis.call('HSET', KEYS[1], 'w', win, 'c', c, 'p', p)
  redis.call('PEXPIRE', KEYS[1], math.ceil(2 * window / 1000) + 1)
  local reset = 2 * window - elapsed
  return {1, math.max(0, math.floor(limit - estimate - 1)), reset, 0}
end
local retry
if c + 1 <= limit then
  retry = window - math.floor(window * (limit - c - 1) / p) - elapsed
else
  retry = window - elapsed + math.max(0, window - math.floor(window * (limit - 1) / c))
end
local reset = window - elapsed
if c > 0 then reset = 2 * window - elapsed end
return {0, 0, reset, math.max(1, retry)}
";

pub(crate) fn sliding_window(
    state: &mut HashMap<String, String>,
    now: u64,
    limit: u64,
    window: u64,
) -> Verdict {
    let win = now / window;
    let elapsed = now - win * window;
    let (mut current, mut previous) = (
        field(state, "c").unwrap_or(0),
        field(state, "p").unwrap_or(0),
    );
    match field(state, "w") {
        Some(w) if w == win => {}
        Some(w) if w + 1 == win => (previous, current) = (current, 0),
        _ => (previous, current) = (0, 0),
    }
    let (windowf, limitf) = (window as f64, limit as f64);
    let estimate = previous as f64 * (window - elapsed) as f64 / windowf + current as f64;
    if estimate + 1.0 <= limitf {
        state.insert("w".into(), win.to_string());
        state.insert("c".into(), (current + 1).to_string());
        state.insert("p".into(), previous.to_string());
        return Verdict {
            allowed: true,
            remaining: (limitf - estimate - 1.0).floor().max(0.0) as u64,
            reset_us: 2 * window - elapsed,
            retry_after_us: 0,
        };
    }
    // The earliest elapsed time at which the weighted previous count leaves room,
    // rounded up to the µs (in integers, as the Lua twin does).
    let retry = if current < limit {
        (window - window * (limit - current - 1) / previous.max(1)).saturating_sub(elapsed)
    } else {
        (window - elapsed) + window.saturating_sub(window * (limit - 1) / current.max(1))
    };
    Verdict {
        allowed: false,
        remaining: 0,
        reset_us: if current > 0 { 2 * window } else { window } - elapsed,
        retry_after_us: retry.max(1),
    }
}

/// Token bucket as GCRA: one "theoretical arrival time" per key. Each call moves it
/// `emission` µs on; a call is allowed while it stays within `tolerance` (`emission ×
/// burst`) of now — so `burst` calls at once, then one per `emission`.
#[cfg(feature = "redis")]
pub(crate) const TOKEN_BUCKET_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('HGET', KEYS[1], 't')) or now
if tat < now then tat = now end
local next_tat = tat + emission
local allow_at = next_tat - tolerance
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('HSET', KEYS[1], 't', next_tat)
redis.call('PEXPIRE', KEYS[1], math.ceil((next_tat - now) / 1000) + 1)
return {1, math.floor((tolerance - (next_tat - now)) / emission), next_tat - now, 0}
";

pub(crate) fn token_bucket(
    state: &mut HashMap<String, String>,
    now: u64,
    emission: u64,
    tolerance: u64,
) -> Verdict {
    let tat = field(state, "t").unwrap_or(now).max(now);
    let next = tat + emission;
    let allow_at = next.saturating_sub(tolerance);
    if now < allow_at {
        return Verdict {
            allowed: false,
            remaining: 0,
            reset_us: tat - now,
            retry_after_us: allow_at - now,
        };
    }
    state.insert("t".into(), next.to_string());
    Verdict {
        allowed: true,
        remaining: (tolerance - (next - now)) / emission,
        reset_us: next - now,
        retry_after_us: 0,
    }
}

fn field(state: &HashMap<String, String>, name: &str) -> Option<u64> {
    state.get(name).and_then(|value| value.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    #[test]
    fn fixed_window_resets_at_the_boundary() {
        let mut state = HashMap::new();
        let start = 100 * SECOND;
        for i in 0..5 {
            let v = fixed_window(&mut state, start + i, 5, SECOND);
            assert!(v.allowed);
            assert_eq!(v.remaining, 4 - i);
        }
        let refused = fixed_window(&mut state, start + 10, 5, SECOND);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_us, SECOND - 10);
        assert!(fixed_window(&mut state, start + SECOND, 5, SECOND).allowed);
    }

    #[test]
    fn sliding_window_weights_the_previous_window() {
        let mut state = HashMap::new();
        let start = 100 * SECOND;
        for _ in 0..10 {
            assert!(sliding_window(&mut state, start, 10, SECOND).allowed);
        }
        assert!(!sliding_window(&mut state, start + 1, 10, SECOND).allowed);
        // A quarter into the next window, 7.5 of the previous 10 still count.
        let quarter = start + SECOND + SECOND / 4;
        let v = sliding_window(&mut state, quarter, 10, SECOND);
        assert!(v.allowed, "{v:?}");
        assert_eq!(v.remaining, 1);
        assert!(sliding_window(&mut state, quarter, 10, SECOND).allowed);
        let refused = sliding_window(&mut state, quarter, 10, SECOND);
        assert!(!refused.allowed);
        // 7.5 + 2 + 1 ≤ 10 once the previous weight drops to 7: 0.05 s later.
        assert_eq!(refused.retry_after_us, SECOND / 20);
    }

    #[test]
    fn token_bucket_allows_the_burst_then_the_rate() {
        let mut state = HashMap::new();
        let (emission, burst) = (SECOND / 10, 5);
        let now = 100 * SECOND;
        for i in 0..burst {
            let v = token_bucket(&mut state, now, emission, emission * burst);
            assert!(v.allowed);
            assert_eq!(v.remaining, burst - i - 1);
        }
        let refused = token_bucket(&mut state, now, emission, emission * burst);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_us, emission);
        assert!(token_bucket(&mut state, now + emission, emission, emission * burst).allowed);
    }
}
