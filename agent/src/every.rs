//! The agent's periodic work (inventory, load samples, link status): a tick at once,
//! then one every period (a late tick delays the next rather than bunching), until
//! the agent stops.

use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

pub struct Every {
    tick: Interval,
    cancel: CancellationToken,
}

impl Every {
    pub fn new(period: Duration, cancel: CancellationToken) -> Every {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Every { tick, cancel }
    }

    /// Waits for the next tick: true then, false once the agent stops.
    pub async fn tick(&mut self) -> bool {
        tokio::select! {
            _ = self.tick.tick() => true,
            _ = self.cancel.cancelled() => false,
        }
    }
}
