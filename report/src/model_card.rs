//! The model card: one self-contained page describing a trained model for a portfolio manager
//! and a risk reviewer: what data and period it learnt from, its feature pipeline and
//! architecture, how training went, how it scored out of sample beside naive baselines, what
//! drives it (permutation importance with its spread across folds), whether its probabilities
//! are calibrated, whether its inputs drifted, and what the strategy trading it earned out of
//! sample.
//!
//! Like the other pages it renders from data ([`ModelCard`]), built by the caller from the
//! model folder; this module knows nothing of models.

use super::axis::Fmt;
use super::charts::{Bars, Heat, Line, Style, XyLine, bar_chart, heatmap, time_chart, xy_chart};
use super::format::{escape, number, percent};
use super::page::Page;
use super::svg::{BLUE, PALETTE, diverging};
use super::tables::table;
use crate::analysis::Series;
use serde::{Deserialize, Serialize};

/// One training run's loss per epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingCurve {
    /// Which fit (`final model`, `fold 1`, ...).
    pub name: String,
    /// Training loss per epoch.
    pub train_loss: Vec<f64>,
    /// Validation loss per epoch.
    pub valid_loss: Vec<f64>,
}

/// One walk-forward fold's out-of-sample scores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FoldRow {
    /// Training rows as text.
    pub train: String,
    /// Test rows as text.
    pub test: String,
    /// Model accuracy.
    pub accuracy: Option<f64>,
    /// Model macro-F1.
    pub macro_f1: Option<f64>,
    /// Model log loss.
    pub log_loss: Option<f64>,
    /// Majority-class baseline accuracy.
    pub majority: Option<f64>,
    /// Last-return-sign baseline accuracy.
    pub last_sign: Option<f64>,
    /// Brier score.
    pub brier: Option<f64>,
    /// Return of the strategy over the test rows.
    pub oos_return: Option<f64>,
    /// Majority-class baseline log loss (its training class frequencies).
    pub majority_log_loss: Option<f64>,
    /// Logistic-regression baseline accuracy.
    pub logistic: Option<f64>,
    /// Logistic-regression baseline log loss.
    pub logistic_log_loss: Option<f64>,
    /// Risk models: the persistence rule's accuracy.
    pub persistence: Option<f64>,
    /// Risk models: the HAR forecast's accuracy.
    pub har: Option<f64>,
    /// Buy and hold over the test rows.
    pub buy_and_hold: Option<f64>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
}

/// One input group's permutation importance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportanceRow {
    /// Feature or lag block.
    pub name: String,
    /// Log-loss increase when shuffled: mean over folds.
    pub mean: f64,
    /// Its standard deviation over folds.
    pub std: f64,
    /// Accuracy drop when shuffled: mean over folds.
    pub accuracy_drop: f64,
    /// Log-loss increase per fold.
    pub per_fold: Vec<f64>,
    /// Whether it stands out beyond noise.
    pub stands_out: bool,
}

/// One fold's reliability curve.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reliability {
    /// Which predictions (`fold 1`, `all folds`).
    pub name: String,
    /// (mean confidence, accuracy, samples) of each non-empty bin.
    pub bins: Vec<(f64, f64, u64)>,
}

/// Everything a model card shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The page title.
    pub title: String,
    /// One line under it.
    pub subtitle: String,
    /// Caveats shown under the title.
    pub notes: Vec<String>,
    /// Identity, data and period: (label, value).
    pub facts: Vec<(String, String)>,
    /// The feature pipeline: (name, definition).
    pub pipeline: Vec<(String, String)>,
    /// Architecture and training settings: (label, value).
    pub architecture: Vec<(String, String)>,
    /// Loss curves.
    pub curves: Vec<TrainingCurve>,
    /// Class names, by index.
    pub classes: Vec<String>,
    /// Per walk-forward fold.
    pub folds: Vec<FoldRow>,
    /// Importance, most important first (features, then lag blocks).
    pub importance: Vec<ImportanceRow>,
    /// What "stands out" means, for the page.
    pub importance_rule: String,
    /// Reliability curves, pooled first.
    pub reliability: Vec<Reliability>,
    /// Input names of the drift table.
    pub drift_inputs: Vec<String>,
    /// PSI per fold (rows) and input (columns), test rows against training rows.
    pub drift: Vec<Vec<f64>>,
    /// PSI above which an input counts as drifted.
    pub drift_threshold: f64,
    /// Growth of 1 of the strategy over the test folds, stitched.
    pub equity: Series,
}

/// Returns the model card as a self-contained HTML page.
pub fn render_model_card(c: &ModelCard) -> String {
    let mut page = Page::new(&c.title, &c.subtitle, &c.notes);
    let pairs = |rows: &[(String, String)]| {
        table(
            "plain",
            &["", ""],
            rows.iter().map(|(k, v)| vec![k.clone(), v.clone()]),
        )
    };
    let links = [
        ("model", "Model"),
        ("training", "Training"),
        ("folds", "Out of sample"),
        ("importance", "Importance"),
        ("calibration", "Calibration"),
        ("drift", "Drift"),
        ("equity", "Equity"),
    ];
    page.nav(&links.map(|(a, b)| (a.to_string(), b.to_string())));
    let model = format!(
        "{}<h3>Feature pipeline</h3>{}<h3>Architecture and training</h3>{}",
        pairs(&c.facts),
        table(
            "plain",
            &["Feature", "Definition"],
            c.pipeline.iter().map(|(k, v)| vec![k.clone(), v.clone()]),
        ),
        pairs(&c.architecture)
    );
    page.section("model", "Model, data and period", &model);
    page.section("training", "Training curves", &curves(c));
    page.section("folds", "Walk-forward, out of sample", &folds(c));
    page.section("importance", "Permutation importance", &importance(c));
    page.section("calibration", "Calibration", &calibration(c));
    page.section("drift", "Input drift", &drift(c));
    let equity = time_chart(
        "model_oos_equity",
        "Out-of-sample growth of 1 of the strategy, test folds stitched",
        "No out-of-sample backtest (volatility models, or no test rows).",
        &[Line::new("Out of sample", &c.equity, BLUE)],
        Style::LINES,
    );
    page.section("equity", "Out-of-sample equity", &equity);
    page.finish()
}

fn curves(c: &ModelCard) -> String {
    let mut lines = Vec::new();
    let names: Vec<(String, String)> = (c.curves.iter())
        .map(|k| (format!("{} train", k.name), format!("{} valid", k.name)))
        .collect();
    for (k, (curve, (train, valid))) in c.curves.iter().zip(&names).enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let at = |v: &[f64]| -> Vec<(f64, f64)> {
            (v.iter().enumerate())
                .map(|(e, &l)| ((e + 1) as f64, l))
                .collect()
        };
        lines.push((train.as_str(), color, at(&curve.train_loss)));
        lines.push((valid.as_str(), color, at(&curve.valid_loss)));
    }
    xy_chart(
        (
            "model_training_curves",
            "Loss per epoch (training and validation)",
            "No training curve was saved with this model.",
        ),
        &lines,
        (Fmt::Number, Fmt::Number),
        false,
        false,
    )
}

fn opt(v: Option<f64>, f: fn(f64) -> String) -> String {
    v.filter(|v| v.is_finite()).map_or("n/a".into(), f)
}

fn folds(c: &ModelCard) -> String {
    let pct = |v: f64| percent(v, 1);
    let num = |v: f64| number(v, 3);
    // Baseline columns of the figures some fold has (models saved before them have none).
    type Figure = fn(&FoldRow) -> Option<f64>;
    let baselines: [(&str, Figure, bool); 7] = [
        ("Majority log loss", |f| f.majority_log_loss, false),
        ("Logistic log loss", |f| f.logistic_log_loss, false),
        ("Logistic acc.", |f| f.logistic, true),
        ("Persistence acc.", |f| f.persistence, true),
        ("HAR acc.", |f| f.har, true),
        ("OOS return", |f| f.oos_return, true),
        ("Buy & hold return", |f| f.buy_and_hold, true),
    ];
    let shown: Vec<_> = (baselines.iter())
        .filter(|(_, get, _)| c.folds.iter().any(|f| get(f).is_some()))
        .collect();
    let rows = c.folds.iter().enumerate().map(|(k, f)| {
        let mut row = vec![
            (k + 1).to_string(),
            f.train.clone(),
            f.test.clone(),
            opt(f.accuracy, pct),
            opt(f.macro_f1, num),
            opt(f.log_loss, num),
            opt(f.majority, pct),
            opt(f.last_sign, pct),
            opt(f.brier, num),
        ];
        row.extend(
            (shown.iter()).map(|(_, get, percent)| opt(get(f), if *percent { pct } else { num })),
        );
        row
    });
    let mut header = vec![
        "Fold",
        "Train rows",
        "Test rows",
        "Accuracy",
        "Macro-F1",
        "Log loss",
        "Majority acc.",
        "Last-sign acc.",
        "Brier",
    ];
    header.extend(shown.iter().map(|(name, _, _)| *name));
    let chart = bar_chart(Bars {
        name: "model_fold_accuracy",
        title: "Accuracy per fold: model beside the baselines",
        why_empty: "No fold has test samples.",
        labels: (1..=c.folds.len()).map(|k| format!("fold {k}")).collect(),
        series: vec![
            ("Model", BLUE, c.folds.iter().map(|f| f.accuracy).collect()),
            (
                "Majority class",
                PALETTE[1],
                c.folds.iter().map(|f| f.majority).collect(),
            ),
            (
                "Last-return sign",
                PALETTE[2],
                c.folds.iter().map(|f| f.last_sign).collect(),
            ),
        ],
        fmt: Fmt::Percent,
        horizontal: false,
        value_text: None,
    });
    let mut html = chart + "<div class=\"scroll\">" + &table("plain", &header, rows) + "</div>";
    html.push_str("<h3>Confusion matrices (rows: true class, columns: predicted)</h3>");
    for (k, f) in c.folds.iter().enumerate() {
        html.push_str(&confusion(
            &format!("Fold {}", k + 1),
            &c.classes,
            &f.confusion,
        ));
    }
    html
}

fn confusion(title: &str, classes: &[String], m: &[Vec<u64>]) -> String {
    let total: u64 = m.iter().flatten().sum();
    let cells: Vec<Vec<Option<Heat>>> = (m.iter().enumerate())
        .map(|(t, row)| {
            (row.iter().enumerate())
                .map(|(p, &n)| {
                    let share = n as f64 / total.max(1) as f64;
                    // Correct predictions green, errors red, by their share of the fold.
                    let v = if t == p { share } else { -share };
                    Some(Heat {
                        fill: diverging(v, 0.3),
                        text: n.to_string(),
                        bold: t == p,
                    })
                })
                .collect()
        })
        .collect();
    heatmap(
        ("model_confusion", title, "No test samples."),
        classes.to_vec(),
        classes.to_vec(),
        &cells,
    )
}

fn importance(c: &ModelCard) -> String {
    let rows = &c.importance;
    let chart = bar_chart(Bars {
        name: "model_importance",
        title: "Log-loss increase when shuffled: mean over folds and its standard deviation",
        why_empty: "No fold had test samples to shuffle.",
        labels: rows.iter().map(|r| r.name.clone()).collect(),
        series: vec![
            ("Mean", BLUE, rows.iter().map(|r| Some(r.mean)).collect()),
            (
                "Std across folds",
                PALETTE[1],
                rows.iter().map(|r| Some(r.std)).collect(),
            ),
        ],
        fmt: Fmt::Number,
        horizontal: true,
        value_text: None,
    });
    let folds = rows.iter().map(|r| r.per_fold.len()).max().unwrap_or(0);
    let fold_names: Vec<String> = (1..=folds).map(|k| format!("Fold {k}")).collect();
    let mut header = vec![
        "Input",
        "Log-loss increase",
        "Std",
        "Accuracy drop",
        "Stands out",
    ];
    header.extend(fold_names.iter().map(String::as_str));
    let body = rows.iter().map(|r| {
        let mut row = vec![
            r.name.clone(),
            number(r.mean, 4),
            number(r.std, 4),
            percent(r.accuracy_drop, 1),
            if r.stands_out { "yes" } else { "no" }.to_string(),
        ];
        row.extend(r.per_fold.iter().map(|v| number(*v, 4)));
        row
    });
    format!(
        "{chart}<p>{}</p><div class=\"scroll\">{}</div>",
        escape(&c.importance_rule),
        table("plain", &header, body)
    )
}

fn calibration(c: &ModelCard) -> String {
    let lines: Vec<XyLine<'_>> = (c.reliability.iter().enumerate())
        .map(|(k, r)| {
            (
                r.name.as_str(),
                PALETTE[k % PALETTE.len()],
                r.bins.iter().map(|b| (b.0, b.1)).collect(),
            )
        })
        .collect();
    let chart = xy_chart(
        (
            "model_reliability",
            "Reliability: accuracy against the top class's predicted probability (dashed: perfect)",
            "No test predictions.",
        ),
        &lines,
        (Fmt::Percent, Fmt::Percent),
        true,
        true,
    );
    let rows = (c.reliability.first().into_iter())
        .flat_map(|r| r.bins.iter())
        .map(|b| vec![percent(b.0, 1), percent(b.1, 1), b.2.to_string()]);
    format!(
        "{chart}<h3>All folds pooled</h3>{}",
        table("plain", &["Mean confidence", "Accuracy", "Samples"], rows)
    )
}

fn drift(c: &ModelCard) -> String {
    let mut header = vec!["Fold"];
    header.extend(c.drift_inputs.iter().map(String::as_str));
    let rows = c.drift.iter().enumerate().map(|(k, psi)| {
        let mut row = vec![(k + 1).to_string()];
        row.extend(psi.iter().map(|&p| {
            let flag = if p > c.drift_threshold {
                " drifted"
            } else {
                ""
            };
            format!("{}{flag}", number(p, 3))
        }));
        row
    });
    format!(
        "<p>Population stability index of each input over a fold's test rows against its \
         training rows; above {} counts as drifted.</p><div class=\"scroll\">{}</div>",
        number(c.drift_threshold, 2),
        table("plain", &header, rows)
    )
}
