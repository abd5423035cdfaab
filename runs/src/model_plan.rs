//! Which models traded a run of `ml_trend`, and whether out of sample, in plain words for the
//! terminal, `summary.json` and the report's banner.

use crate::config::LoadedConfig;
use anyhow::{Context, Result};
use engine::column::{Column, Curve, TimeColumn};
use market_data::{BarSeries, Timestamp};
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

/// The steps of the run's `curve` before the first model's turn: no model may predict them.
fn untraded(plan: &TradingPlan, curve: &dyn Curve) -> Option<(usize, Timestamp)> {
    let until = plan.turns.first()?.seen_until?;
    let steps = TimeColumn(curve).fold(0, |n, ts| n + usize::from(ts <= until.0));
    Some((steps, until))
}

/// Equal-weighted buy and hold of `series` from the first bar after `after` to the last bar: the
/// benchmark over the bars an out-of-sample run could trade. `None` without such bars (or bars
/// in memory: a streamed run keeps none).
fn held_after(series: &[BarSeries], after: Timestamp) -> Option<(Timestamp, f64)> {
    let mut growth = 0.0;
    let mut from = None;
    for s in series {
        let first = s.bars.iter().find(|b| b.ts > after)?;
        let last = s.bars.last()?;
        growth += last.close / first.close;
        from = Some(from.map_or(first.ts, |f: Timestamp| f.min(first.ts)));
    }
    Some((from?, growth / series.len() as f64 - 1.0))
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
pub(crate) fn json(plan: &TradingPlan, curve: &dyn Curve, series: &[BarSeries]) -> Value {
    let turns: Vec<Value> = (plan.turns.iter())
        .map(|t| {
            json!({
                "role": t.role,
                "model_ids": t.model_ids,
                "trades_after": t.seen_until.map(|ts| ts.to_string()),
            })
        })
        .collect();
    let untraded = untraded(plan, curve);
    let held = untraded.and_then(|(_, until)| held_after(series, until));
    json!({
        "mode": if plan.in_sample { "in_sample" } else { "out_of_sample" },
        "label": label(plan),
        "models": turns,
        "untraded_steps": untraded.map(|(n, _)| n),
        "untraded_until": untraded.map(|(_, ts)| ts.to_string()),
        "buy_and_hold_out_of_sample": held.map(|(_, r)| r),
        "notes": notes(plan, curve, series),
    })
}

/// What the report's banner and the terminal say about the plan, most important first.
pub(crate) fn notes(plan: &TradingPlan, curve: &dyn Curve, series: &[BarSeries]) -> Vec<String> {
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
    if let Some((steps, until)) = untraded(plan, curve)
        && steps > 0
    {
        notes.push(format!(
            "The first {steps} bars (to {until}) trained the first fold's model: no model is out \
             of sample there, so they were not traded."
        ));
        if let Some((from, held)) = held_after(series, until) {
            notes.push(format!(
                "Buy and hold over the bars traded out of sample (from {from}): {:.2}%; the \
                 benchmark above spans every bar.",
                100.0 * held
            ));
        }
    }
    notes
}
