//! The engine façade: observe → plan → apply → verify for any [`Kind`],
//! written once and used by the command line, the controller, the benches
//! and the tests.
//!
//! - [`survey`] observes and plans (what `diff` shows);
//! - [`converge`] runs a surveyed plan's steps, observes again and plans
//!   from that verification (the after-state every caller reports);
//! - [`reconcile_once`] is both in one call.
//!
//! # Errors
//! A failed step stops the run; [`ApplyError::Step`] names the step and how
//! many steps completed before it, so nothing is half-applied unreported.

use super::kind::Kind;
use super::{Action, ApplyError, ObservedState, Plan, SecretDigests, Step, StepReport};
use crate::device::MediantClient;

/// What the device holds and what would make it match.
pub struct Survey<K: Kind> {
    /// The observation the plan was made from.
    pub observed: K::Observed,
    /// The plan.
    pub plan: Plan<K::Action>,
}

/// The result of applying a plan.
#[derive(Clone, Debug)]
pub struct Outcome<O = ObservedState, A = Action> {
    /// The steps that ran, in order.
    pub steps: Vec<StepReport>,
    /// Keys the device accepted but did not take (still different after
    /// apply); empty when the device converged.
    pub not_taken: Vec<String>,
    /// What the kind says about `not_taken` ([`Kind::not_taken_hint`]).
    pub not_taken_hint: Option<String>,
    /// Steps held back by the reset permission, with the reason.
    pub blocked: Vec<(Step<A>, String)>,
    /// The device after the apply (the verification observation; the
    /// survey's own observation when nothing ran).
    pub observed: O,
    /// The plan from `observed`: what is left (empty when converged).
    pub remaining: Plan<A>,
    /// Digests of the write-only secrets sent so far.
    pub digests: SecretDigests,
}

/// What [`reconcile_once`] did.
pub struct Reconciled<K: Kind> {
    /// The survey before any write.
    pub survey: Survey<K>,
    /// The apply and its verification; `None` when only surveyed.
    pub outcome: Option<Outcome<K::Observed, K::Action>>,
}

/// Observes the device and plans. `thorough`: the informational reads are
/// due too (see [`Kind::observe`]).
pub async fn survey<K: Kind>(
    client: &K::Client,
    desired: &K::Desired,
    memory: &SecretDigests,
    thorough: bool,
) -> Result<Survey<K>, ApplyError> {
    let observed = K::observe(client, desired, thorough).await?;
    let plan = K::plan(desired, &observed, memory)?;
    Ok(Survey { observed, plan })
}

/// Runs `plan` (made from `observed`), then observes again and plans from
/// that, so the outcome carries the verified after-state. `on_step` is
/// called before each step runs.
pub async fn converge<K: Kind>(
    client: &K::Client,
    desired: &K::Desired,
    observed: &K::Observed,
    plan: &Plan<K::Action>,
    memory: &SecretDigests,
    on_step: impl FnMut(usize, &Step<K::Action>),
) -> Result<Outcome<K::Observed, K::Action>, ApplyError> {
    let mut digests = memory.clone();
    converge_recording::<K>(client, desired, observed, plan, &mut digests, on_step).await
}

/// [`converge`], recording in `digests` what each step sent as it
/// succeeds, so a run that fails after a write still remembers it (a
/// secret sent, a reset done) and the next run does not send it again.
pub async fn converge_recording<K: Kind>(
    client: &K::Client,
    desired: &K::Desired,
    observed: &K::Observed,
    plan: &Plan<K::Action>,
    digests: &mut SecretDigests,
    mut on_step: impl FnMut(usize, &Step<K::Action>),
) -> Result<Outcome<K::Observed, K::Action>, ApplyError> {
    let mut steps = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        on_step(i + 1, step);
        let done = match K::run_step(client, desired, observed, &step.action).await {
            Ok(done) => done,
            // The device may have applied the step, or part of it: never
            // guess, look again and say what is there.
            Err(source) if source.state_unknown() => {
                let (reobserved, remaining) = reobserve::<K>(client, desired, digests).await;
                return Err(ApplyError::StateUnknown {
                    number: i + 1,
                    description: step.description.clone(),
                    completed: i,
                    source,
                    reobserved,
                    remaining,
                });
            }
            Err(source) => {
                return Err(ApplyError::Step {
                    number: i + 1,
                    description: step.description.clone(),
                    completed: i,
                    source,
                });
            }
        };
        digests.extend(done.digests);
        steps.push(StepReport {
            description: step.description.clone(),
            changes: step.changes.clone(),
            output: done.output,
        });
    }
    if plan.steps.is_empty() {
        return Ok(Outcome {
            steps,
            not_taken: Vec::new(),
            not_taken_hint: None,
            blocked: plan.blocked.clone(),
            observed: observed.clone(),
            remaining: plan.clone(),
            digests: digests.clone(),
        });
    }
    // Verify: a change the device accepted but did not take is reported by
    // name, never retried in a loop.
    let mut after = K::observe(client, desired, false).await?;
    K::carry_over(observed, &mut after);
    let remaining = K::plan(desired, &after, digests)?;
    // Steps without changes (saving the configuration) are housekeeping.
    let not_taken = if remaining.steps.iter().any(|s| !s.changes.is_empty()) {
        remaining.drift_keys.clone()
    } else {
        Vec::new()
    };
    let not_taken_hint = if not_taken.is_empty() {
        None
    } else {
        K::not_taken_hint(&remaining)
    };
    Ok(Outcome {
        steps,
        not_taken,
        not_taken_hint,
        blocked: plan.blocked.clone(),
        observed: after,
        remaining,
        digests: digests.clone(),
    })
}

/// Saves the device's running configuration: the save a run recorded as
/// pending and did not get to (see [`Kind::saves`]).
pub async fn save_pending(client: &MediantClient) -> Result<(), ApplyError> {
    client
        .save_configuration()
        .await
        .map_err(|source| ApplyError::Step {
            number: 0,
            description: "save the configuration a previous run wrote and did not save".to_owned(),
            completed: 0,
            source,
        })
}

/// Observes again after a step whose effect is unknown and says what is
/// left to do (keys only), and how many changes.
async fn reobserve<K: Kind>(
    client: &K::Client,
    desired: &K::Desired,
    digests: &SecretDigests,
) -> (String, Option<usize>) {
    match K::observe(client, desired, false).await {
        Err(e) => (format!("the device could not be observed ({e})"), None),
        Ok(after) => match K::plan(desired, &after, digests) {
            Err(e) => (format!("no plan could be made ({e})"), None),
            Ok(left) if left.drift_count == 0 => (
                "nothing differs from the desired state any more".to_string(),
                Some(0),
            ),
            Ok(left) => (
                format!(
                    "{} change(s) still to make ({}); the next reconcile plans them from this \
                     observation",
                    left.drift_count,
                    left.drift_keys.join(", ")
                ),
                Some(left.drift_count),
            ),
        },
    }
}

/// Surveys, and unless `survey_only`, converges when the plan has steps.
pub async fn reconcile_once<K: Kind>(
    client: &K::Client,
    desired: &K::Desired,
    memory: &SecretDigests,
    survey_only: bool,
) -> Result<Reconciled<K>, ApplyError> {
    let survey = survey::<K>(client, desired, memory, false).await?;
    if survey_only {
        return Ok(Reconciled {
            survey,
            outcome: None,
        });
    }
    let outcome = converge::<K>(
        client,
        desired,
        &survey.observed,
        &survey.plan,
        memory,
        |_, _| {},
    )
    .await?;
    Ok(Reconciled {
        survey,
        outcome: Some(outcome),
    })
}
