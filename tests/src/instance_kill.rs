//! Function instances that die mid-invocation, as a Lambda instance dies on a
//! timeout, out of memory or a crash: between its `SendTask*` calls and its
//! batch response.
//!
//! A [`KillSchedule`] decides, invocation by invocation, whether the instance
//! dies and when: as soon as the function holds the event, or once `k` of the
//! invocation's `SendTask*` calls took effect. [`InstanceKiller`] carries it
//! out: it watches the batch's task tokens at the fault proxy
//! ([`Effects::watch`]), SIGKILLs the process when the count is reached, and
//! records how many calls had taken effect at that moment, so "killed after
//! some calls took effect" is counted, not assumed. The event source then gets
//! no answer, and the batch's records come back after the visibility timeout.
//!
//! A seeded schedule fixes each instance's sequence of draws; which invocation
//! meets which draw depends on how the batches fall.

use aws_sdk_sqs::types::Message;
use serde_json::Value;

use crate::Result;
use crate::event_source::callback_token;
use crate::fault_proxy::Effects;
use crate::runtime_api::{Answer, Invoked, Lambda};

/// The most calls a seeded kill waits to see take effect before it strikes.
pub const MAX_EFFECTS_BEFORE_KILL: u64 = 3;

/// Mixed into the seed, so the kills draw from another sequence than the fault
/// proxy given the same seed.
const KILL_STREAM: u64 = 0x6b69_6c6c_0000_0000;

/// When an invocation's instance is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillPoint {
    /// Kill once this many of the invocation's `SendTask*` calls took effect;
    /// 0 kills as soon as the function holds the event.
    pub after_effects: u64,
}

#[derive(Debug)]
enum Plan {
    Never,
    Always(KillPoint),
    Seeded { rng: fastrand::Rng, rate: f64 },
}

/// Which invocations of one instance are killed, and when.
#[derive(Debug)]
pub struct KillSchedule {
    plan: Plan,
}

impl KillSchedule {
    /// No kills.
    pub fn never() -> Self {
        Self { plan: Plan::Never }
    }

    /// Every invocation is killed once `after_effects` of its calls took effect.
    pub fn always_after(after_effects: u64) -> Self {
        Self {
            plan: Plan::Always(KillPoint { after_effects }),
        }
    }

    /// Instance number `instance`'s schedule: each invocation is killed with
    /// probability `rate`, after a number of effects drawn evenly from 0 to
    /// [`MAX_EFFECTS_BEFORE_KILL`], from a generator seeded with `seed`.
    pub fn seeded(seed: u64, instance: u64, rate: f64) -> Self {
        Self {
            plan: Plan::Seeded {
                rng: fastrand::Rng::with_seed(seed ^ KILL_STREAM ^ instance),
                rate,
            },
        }
    }

    /// The kill for the next invocation, if any.
    pub fn draw(&mut self) -> Option<KillPoint> {
        match &mut self.plan {
            Plan::Never => None,
            Plan::Always(point) => Some(*point),
            Plan::Seeded { rng, rate } => (rng.f64() < *rate).then(|| KillPoint {
                after_effects: rng.u64(0..=MAX_EFFECTS_BEFORE_KILL),
            }),
        }
    }
}

crate::tally! {
    /// What an [`InstanceKiller`] did.
    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
    pub struct KillTally {
        /// Invocations the schedule picked for a kill.
        pub planned: usize,
        /// Processes killed (SIGKILL) mid-invocation (the others answered before their
        /// kill point came).
        pub killed: usize,
        /// Kills that struck after at least one of the invocation's `SendTask*`
        /// calls had taken effect, as counted at the proxy at that moment.
        pub after_effect: usize,
        /// The invocations' calls that had taken effect when they were killed.
        pub effects_before_kill: u64,
        /// Records of killed invocations, left to come back after the visibility timeout.
        pub records_abandoned: usize,
    }
}

/// Kills one instance's function mid-invocation on its schedule.
#[derive(Debug)]
pub struct InstanceKiller {
    schedule: KillSchedule,
    effects: Effects,
    tally: KillTally,
}

impl InstanceKiller {
    /// Kills on `schedule`, counting calls that take effect at the proxy behind `effects`.
    pub fn new(schedule: KillSchedule, effects: Effects) -> Self {
        Self {
            schedule,
            effects,
            tally: KillTally::default(),
        }
    }

    /// Invokes `lambda` with `event` (made of `messages`), killing it midway if
    /// the schedule says so. `None`: the instance died and there is no answer;
    /// a fresh process has taken its place.
    pub async fn invoke(
        &mut self,
        lambda: &mut Lambda,
        messages: &[Message],
        event: &Value,
    ) -> Result<Option<Answer>> {
        let Some(point) = self.schedule.draw() else {
            return lambda.invoke(event).await.map(Some);
        };
        self.tally.planned += 1;
        let watch = self.effects.watch(
            messages
                .iter()
                .filter_map(|message| callback_token(message.body().unwrap_or_default())),
        );
        match lambda
            .invoke_or_kill(event, watch.reached(point.after_effects))
            .await?
        {
            Invoked::Answered(answer) => Ok(Some(answer)),
            Invoked::Killed(effects_before_kill) => {
                self.tally.killed += 1;
                self.tally.effects_before_kill += effects_before_kill;
                if effects_before_kill > 0 {
                    self.tally.after_effect += 1;
                }
                self.tally.records_abandoned += messages.len();
                Ok(None)
            }
        }
    }

    /// What it did so far.
    pub fn tally(&self) -> KillTally {
        self.tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(seed: u64, instance: u64) -> Vec<Option<KillPoint>> {
        let mut schedule = KillSchedule::seeded(seed, instance, 0.1);
        (0..500).map(|_| schedule.draw()).collect()
    }

    #[test]
    fn the_same_seed_and_instance_draw_the_same_kills() {
        let first = draws(7, 0);

        assert_eq!(first, draws(7, 0));
        assert_ne!(first, draws(8, 0));
        assert_ne!(first, draws(7, 1), "each instance has its own sequence");
        let kills = first.iter().flatten().count();
        assert!((25..=80).contains(&kills), "about 10% of 500: {kills}");
    }

    #[test]
    fn seeded_kills_wait_for_zero_to_the_most_effects() {
        let points: Vec<u64> = draws(7, 0)
            .into_iter()
            .flatten()
            .map(|point| point.after_effects)
            .collect();

        assert!(points.iter().all(|&k| k <= MAX_EFFECTS_BEFORE_KILL));
        assert!(points.contains(&0), "some kills strike before any call");
        assert!(points.iter().any(|&k| k > 0), "most wait for calls");
    }
}
