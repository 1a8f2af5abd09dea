//! `Search`: the search loop — plans waves of trials with the strategy,
//! runs them in parallel within a thread budget, records each in the
//! results log, and resumes from it.

use super::context::{Reports, TrialContext};
use super::log::ResultsLog;
use super::objective::Objective;
use super::pruning::MedianPruner;
use super::random::Random;
use super::results::TuneResults;
use super::space::SearchSpace;
use super::strategy::{stream, Strategy, TrialPlan, WaveContext};
use super::trial::{Trial, TrialStatus};
use super::values::Value;
use crate::callbacks::Logs;
use crate::error::{Error, Result};
use neurite_rand::derive_seed;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// A hyperparameter search over any trial function (Optuna's `Study`):
/// the space, the objective, the strategy and how trials run. The
/// model-training front end is [`Tuner`](super::Tuner).
///
/// - **Reproducible**: trial `i`'s configuration and seed derive from
///   the search seed; trials run in waves of at most `max_parallel_trials`,
///   each wave planned from the trials finished before it, so the same seed
///   gives the same trials whatever the timing.
/// - **Resumable**: with [`Search::log_file`], every trial is appended to
///   a JSON-lines file as one synced write; a search started again with the
///   same settings re-plans the trials, takes those already in the file
///   instead of running them, and ends with the same results.
/// - **Robust**: a trial function that returns an error or panics makes a
///   failed trial (the error is kept and shown); the search goes on.
///
/// ```
/// use neurite::tune::{Objective, Param, Search, SearchSpace, Tpe};
/// let space = SearchSpace::new()
///     .add(Param::float("x", -3.0, 3.0))?
///     .add(Param::choice("shift", [0.0, 1.0]))?;
/// let results = Search::new(space, Objective::min("loss"))
///     .strategy(Tpe::new(30))
///     .seed(1)
///     .verbose(0)
///     .run(|trial| {
///         let hp = trial.params();
///         let loss = (hp.get_float("x")? - 1.0).powi(2) + hp.get_float("shift")?;
///         Ok([("loss".to_string(), loss)].into_iter().collect())
///     })?;
/// let best = results.best_trial().unwrap();
/// assert!(best.objective.unwrap() < 0.5);
/// # Ok::<(), neurite::Error>(())
/// ```
pub struct Search {
    pub(crate) space: SearchSpace,
    pub(crate) objective: Objective,
    pub(crate) strategy: Box<dyn Strategy>,
    pub(crate) seed: u64,
    pub(crate) epochs: usize,
    pub(crate) max_parallel_trials: usize,
    pub(crate) threads: Option<usize>,
    pub(crate) log_file: Option<PathBuf>,
    pub(crate) pruner: Option<MedianPruner>,
    pub(crate) verbose: u8,
}

impl Search {
    /// A search of `space` for the best `objective`: by default 10 random
    /// trials of 1 epoch, seed 0, one trial at a time, verbose 1.
    pub fn new(space: SearchSpace, objective: Objective) -> Self {
        Search {
            space,
            objective,
            strategy: Box::new(Random::new(10)),
            seed: 0,
            epochs: 1,
            max_parallel_trials: 1,
            threads: None,
            log_file: None,
            pruner: None,
            verbose: 1,
        }
    }

    /// The strategy: [`Grid`](super::Grid), [`Random`], [`Tpe`](super::Tpe),
    /// [`Hyperband`](super::Hyperband), or your own.
    pub fn strategy(mut self, strategy: impl Strategy + 'static) -> Self {
        self.strategy = Box::new(strategy);
        self
    }

    /// The search seed: every trial's configuration and model seed derive from it.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Epochs per trial (Hyperband sets its own budgets).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Trials run at the same time (at least 1). Each runs on its own rayon
    /// pool of `threads / max_parallel_trials` threads (at least 1), so its
    /// kernels share the budget instead of fighting over the cores.
    pub fn max_parallel_trials(mut self, n: usize) -> Self {
        self.max_parallel_trials = n.max(1);
        self
    }

    /// The thread budget of the whole search (default: rayon's global pool size).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// Appends every trial to this JSON-lines file and resumes from the
    /// trials already in it.
    pub fn log_file(mut self, path: impl AsRef<Path>) -> Self {
        self.log_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// Stops hopeless trials early (the trial function reports its epochs
    /// through [`TrialContext::report`]; [`Tuner`](super::Tuner) does).
    pub fn pruner(mut self, pruner: MedianPruner) -> Self {
        self.pruner = Some(pruner);
        self
    }

    /// 0 silent, 1 one line per trial.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// The search space.
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// The objective.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// Runs the search: `trial` gets each trial's [`TrialContext`] and
    /// returns its logs, which must hold the objective. A missing objective
    /// stops the search with an error naming it and listing the logs; a
    /// trial's own error or panic is a failed trial.
    pub fn run<F>(&self, trial: F) -> Result<TuneResults>
    where
        F: Fn(&TrialContext<'_>) -> Result<Logs> + Sync,
    {
        if self.epochs == 0 {
            return Err(Error::Input("tune: epochs must be at least 1".into()));
        }
        if self.space.is_empty() {
            return Err(Error::Input("tune: the search space has no parameter".into()));
        }
        let (log, loaded) = match &self.log_file {
            Some(path) => {
                let (log, trials) = ResultsLog::open(path)?;
                (Some(Mutex::new(log)), trials)
            }
            None => (None, BTreeMap::new()),
        };
        let k = self.max_parallel_trials;
        let budget = self.threads.unwrap_or_else(rayon::current_num_threads);
        let pools = if k > 1 || self.threads.is_some() {
            let per_trial = (budget / k).max(1);
            let pools: std::result::Result<Vec<_>, _> = (0..k)
                .map(|_| rayon::ThreadPoolBuilder::new().num_threads(per_trial).build())
                .collect();
            Some(pools.map_err(|e| Error::Model(format!("tune: cannot start a trial's thread pool: {e}")))?)
        } else {
            None
        };
        let mut done: Vec<Trial> = Vec::new();
        loop {
            let mut wave = self.strategy.next_wave(&WaveContext {
                space: &self.space,
                objective: &self.objective,
                done: &done,
                seed: self.seed,
                max_trials: k,
            })?;
            if wave.is_empty() {
                break;
            }
            wave.truncate(k);
            let finished: Vec<Vec<f64>> = done
                .iter()
                .filter(|t| t.status == TrialStatus::Complete)
                .map(|t| t.intermediate.clone())
                .collect();
            let first = done.len();
            let mut slots: Vec<Option<Trial>> = vec![None; wave.len()];
            let mut to_run = Vec::new();
            for (j, plan) in wave.into_iter().enumerate() {
                let job = self.job(first + j, plan)?;
                match loaded.get(&job.index) {
                    Some(t) => {
                        self.check_logged(t, &job)?;
                        if self.verbose > 0 {
                            println!(
                                "trial {}: {} (from the results log)",
                                t.index,
                                describe(t, &self.objective)
                            );
                        }
                        slots[j] = Some(t.clone());
                    }
                    None => to_run.push((j, job)),
                }
            }
            let ran: Vec<(usize, Result<Trial>)> = match &pools {
                None => to_run
                    .into_iter()
                    .map(|(j, job)| (j, self.run_job(&trial, job, &finished, log.as_ref())))
                    .collect(),
                Some(pools) => std::thread::scope(|s| {
                    let handles: Vec<_> = to_run
                        .into_iter()
                        .enumerate()
                        .map(|(slot, (j, job))| {
                            let (pool, trial, finished, log) =
                                (&pools[slot], &trial, &finished, log.as_ref());
                            s.spawn(move || (j, pool.install(|| self.run_job(trial, job, finished, log))))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                        .collect()
                }),
            };
            let mut first_error = None;
            for (j, result) in ran {
                match result {
                    Ok(t) => slots[j] = Some(t),
                    Err(e) => {
                        first_error.get_or_insert((j, e));
                    }
                }
            }
            if let Some((_, e)) = first_error {
                return Err(e);
            }
            done.extend(slots.into_iter().flatten());
        }
        Ok(TuneResults::new(
            self.objective.clone(),
            self.strategy.name(),
            self.space.clone(),
            done,
            self.log_file.clone(),
        ))
    }

    /// Trial `index` of `plan`: its values (as the log will read them back), seed and budget.
    fn job(&self, index: usize, plan: TrialPlan) -> Result<Job> {
        self.space.check_values(&plan.params).map_err(|e| {
            Error::Model(format!(
                "tune: strategy '{}' planned trial {index} outside the search space: {e}",
                self.strategy.name()
            ))
        })?;
        Ok(Job {
            index,
            params: roundtrip(&plan.params)?,
            seed: plan
                .seed
                .unwrap_or_else(|| derive_seed(self.seed, &[stream::TRIAL_SEED, index as u64])),
            epochs: plan.epochs.unwrap_or(self.epochs),
            bracket: plan.bracket,
            rung: plan.rung,
        })
    }

    /// A logged trial must be the one this search plans at its index.
    fn check_logged(&self, t: &Trial, job: &Job) -> Result<()> {
        let same_params = t.params.len() == job.params.len()
            && t.params
                .iter()
                .zip(&job.params)
                .all(|((ka, a), (kb, b))| ka == kb && same_value(a, b));
        if same_params
            && t.seed == job.seed
            && t.epochs == job.epochs
            && t.bracket == job.bracket
            && t.rung == job.rung
        {
            return Ok(());
        }
        let path = self.log_file.clone().unwrap_or_default();
        Err(Error::format(
            path,
            format!(
                "trial {} in the results log ({}, seed {}, {} epochs) is not the trial this search plans ({}, seed {}, {} epochs): \
                 the log was written by a search with other settings (space, strategy, seed, epochs or max_parallel_trials); \
                 use a new log file or the same settings",
                t.index,
                super::values::HyperParameters::new(t.seed, t.params.clone()),
                t.seed,
                t.epochs,
                super::values::HyperParameters::new(job.seed, job.params.clone()),
                job.seed,
                job.epochs
            ),
        ))
    }

    /// Runs one trial, catching errors and panics, and appends it to the
    /// log. `Err` only for what must stop the search (a missing objective,
    /// an unwritable log).
    fn run_job<F>(
        &self,
        f: &F,
        job: Job,
        finished: &[Vec<f64>],
        log: Option<&Mutex<ResultsLog>>,
    ) -> Result<Trial>
    where
        F: Fn(&TrialContext<'_>) -> Result<Logs> + Sync,
    {
        let start = Instant::now();
        let ctx = TrialContext {
            index: job.index,
            params: super::values::HyperParameters::new(job.seed, job.params.clone()),
            epochs: job.epochs,
            objective: &self.objective,
            pruner: self.pruner.as_ref(),
            finished,
            reports: Mutex::new(Reports::default()),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&ctx)));
        let reports = ctx.into_reports();
        if let Some(missing) = reports.missing {
            return Err(Error::Input(format!("trial {}: {missing}", job.index)));
        }
        let mut trial = Trial {
            index: job.index,
            params: job.params,
            seed: job.seed,
            epochs: job.epochs,
            bracket: job.bracket,
            rung: job.rung,
            status: TrialStatus::Failed,
            objective: None,
            metrics: BTreeMap::new(),
            intermediate: reports.values.clone(),
            error: None,
            seconds: 0.0,
        };
        let best_reported = reports
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .reduce(|a, b| if self.objective.is_better(b, a) { b } else { a });
        match outcome {
            Ok(result) if reports.pruned => {
                trial.status = TrialStatus::Pruned;
                trial.objective = best_reported;
                if let Ok(logs) = result {
                    trial.metrics = finite(&logs);
                }
            }
            Ok(Ok(logs)) => {
                let v = self
                    .objective
                    .value_in(&logs)
                    .map_err(|e| Error::Input(format!("trial {}: {e}", job.index)))?;
                trial.metrics = finite(&logs);
                if v.is_finite() {
                    trial.status = TrialStatus::Complete;
                    trial.objective = Some(v);
                } else {
                    trial.error = Some(format!("the objective '{}' is {v}", self.objective.name()));
                }
            }
            Ok(Err(e)) => trial.error = Some(e.report()),
            Err(panic) => trial.error = Some(format!("panicked: {}", panic_message(&*panic))),
        }
        trial.seconds = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        let line = serde_json::to_string(&trial)
            .map_err(|e| Error::Model(format!("tune: cannot write trial {} as JSON: {e}", trial.index)))?;
        // What the log reads back, so that a resumed search sees the same numbers.
        let trial: Trial = serde_json::from_str(&line)
            .map_err(|e| Error::Model(format!("tune: trial {} does not read back: {e}", job.index)))?;
        if let Some(log) = log {
            log.lock().unwrap_or_else(|e| e.into_inner()).append(&line)?;
        }
        if self.verbose > 0 {
            println!("trial {}: {}", trial.index, describe(&trial, &self.objective));
        }
        Ok(trial)
    }
}

/// One planned trial, ready to run.
struct Job {
    index: usize,
    params: BTreeMap<String, Value>,
    seed: u64,
    epochs: usize,
    bracket: Option<usize>,
    rung: Option<usize>,
}

/// `values` as they read back from JSON (floats printed and parsed), so
/// that a trial run now and one read from the log see the same numbers.
fn roundtrip(values: &BTreeMap<String, Value>) -> Result<BTreeMap<String, Value>> {
    serde_json::to_string(values)
        .and_then(|s| serde_json::from_str(&s))
        .map_err(|e| Error::Model(format!("tune: hyperparameters do not survive JSON: {e}")))
}

/// Equal, floats within a relative 1e-12 (a printed-and-parsed float).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

fn finite(logs: &Logs) -> BTreeMap<String, f64> {
    logs.iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// One line about a finished trial.
fn describe(t: &Trial, objective: &Objective) -> String {
    let params = super::values::HyperParameters::new(t.seed, t.params.clone());
    let status = match t.status {
        TrialStatus::Complete => "complete",
        TrialStatus::Pruned => "pruned",
        TrialStatus::Failed => "failed",
    };
    let value = t
        .objective
        .map(|v| format!(" {}={}", objective.name(), super::values::format_float(v)))
        .unwrap_or_default();
    let error = t.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
    format!(
        "{status}{value} [{params}] {} epochs, {:.1}s{error}",
        t.epochs, t.seconds
    )
}
