//! Which models traded a run of `ml_trend`, and whether out of sample, in plain words for the
//! terminal, `summary.json` and the report's banner.

use crate::config::LoadedConfig;
use anyhow::{Context, Result};
use engine::BacktestOutcome;
use market_data::Timestamp;
use serde_json::{Value, json};
use strategies::StrategyConfig;
use strategies::ml_trend::{ModelSet, TREND_PREFIX, TradingPlan};

/// The trend model's trading plan of a run, `None` for a strategy without a model.
///
/// # Errors
/// The model folder cannot be loaded, or (out of sample) a model lacks its training span.
pub(crate) fn of(loaded: &LoadedConfig) -> Result<Option<TradingPlan>> {
    let Some(StrategyConfig::MlTrend(p)) = &loaded.config.strategy else {
        return Ok(None);
    };
    let dir = loaded.resolve(&p.model);
    let set = ModelSet::load(&dir, TREND_PREFIX)
        .with_context(|| format!("cannot load the model in {}", dir.display()))?;
    Ok(Some(set.plan(p.in_sample)?))
}

/// The steps of `outcome` before the first model's turn: no model may predict them.
fn untraded(plan: &TradingPlan, outcome: &BacktestOutcome) -> Option<(usize, Timestamp)> {
    let until = plan.turns.first()?.seen_until?;
    let steps = outcome.curve.ts.iter().filter(|ts| **ts <= until).count();
    Some((steps, until))
}

/// `in-sample` or `out of sample`, as the headline says it.
fn label(plan: &TradingPlan) -> &'static str {
    if plan.in_sample {
        "in-sample"
    } else {
        "out of sample"
    }
}

/// The plan as `summary.json`'s `model` object.
pub(crate) fn json(plan: &TradingPlan, outcome: &BacktestOutcome) -> Value {
    let turns: Vec<Value> = (plan.turns.iter())
        .map(|t| {
            json!({
                "role": t.role,
                "model_ids": t.model_ids,
                "trades_after": t.seen_until.map(|ts| ts.to_string()),
            })
        })
        .collect();
    let untraded = untraded(plan, outcome);
    json!({
        "mode": if plan.in_sample { "in_sample" } else { "out_of_sample" },
        "label": label(plan),
        "models": turns,
        "untraded_steps": untraded.map(|(n, _)| n),
        "untraded_until": untraded.map(|(_, ts)| ts.to_string()),
        "notes": notes(plan, outcome),
    })
}

/// What the report's banner and the terminal say about the plan, most important first.
pub(crate) fn notes(plan: &TradingPlan, outcome: &BacktestOutcome) -> Vec<String> {
    let mut notes = Vec::new();
    if plan.in_sample {
        let id = plan.turns.first().map(|t| t.model_ids.join(", "));
        notes.push(format!(
            "IN-SAMPLE: the final model ({}) traded every bar, including the bars it was trained \
             on ([strategy.params] in_sample = true), so these figures overstate what it would \
             have earned; remove in_sample to trade each bar with a model that never saw it.",
            id.unwrap_or_default()
        ));
        return notes;
    }
    let turns: Vec<String> = (plan.turns.iter())
        .map(|t| {
            let after = t
                .seen_until
                .map_or(String::new(), |ts| format!(" after {ts}"));
            format!("{} {}{after}", t.role, t.model_ids.join("+"))
        })
        .collect();
    notes.push(format!(
        "Out of sample: each bar was predicted by the latest walk-forward model trained before \
         it (its training labels ended before the bar): {}.",
        turns.join("; ")
    ));
    if let Some((steps, until)) = untraded(plan, outcome)
        && steps > 0
    {
        notes.push(format!(
            "The first {steps} bars (to {until}) trained the first fold's model: no model is out \
             of sample there, so they were not traded."
        ));
    }
    notes
}
