//! Saved models: `weights.safetensors` plus `model.json`, which holds everything inference
//! needs to reproduce training's preprocessing (feature columns and pipeline, standardisation
//! statistics, window, horizon, classes) and what the model was trained on and scored. A
//! `model_id` hashes both, so a run can name the exact model it used and a changed file is
//! detected on load.

use super::config::{ModelConfig, TrainingConfig};
use super::error::{MlError, Result};
use super::labels::VolTerciles;
use super::model::TrendModel;
use super::prepare::Target;
use super::standardize::Standardizer;
use features::FeatureConfig;
use market_data::atomic::{self, PendingFile};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The weights file in a model directory.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// The metadata file in a model directory.
pub const METADATA_FILE: &str = "model.json";
/// Version of the metadata layout.
pub const FORMAT_VERSION: u32 = 1;

/// The first and last timestamps of the training rows, in ns since the Unix epoch, and the last
/// bar the model saw at all: the last training row's label reads `horizon` bars past it, so the
/// model is out of sample only on bars after `seen_until_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingPeriod {
    /// First training bar.
    pub first_ns: i64,
    /// Last training (decision) bar.
    pub last_ns: i64,
    /// The last bar any training label read (`None` in models saved before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_until_ns: Option<i64>,
}

/// Everything saved next to the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMetadata {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// Version of the `strategies` crate that trained the model.
    pub crate_version: String,
    /// What the classes mean.
    pub target: Target,
    /// The architecture and label definition.
    pub model: ModelConfig,
    /// How it was trained.
    pub training: TrainingConfig,
    /// The model's input columns, in order.
    pub feature_columns: Vec<String>,
    /// The `[[features]]` tables that compute the columns.
    pub pipeline: Vec<FeatureConfig>,
    /// Frozen standardisation of the input columns.
    pub standardizer: Standardizer,
    /// Forward-volatility cut points (volatility target only).
    pub vol_terciles: Option<VolTerciles>,
    /// Class names, by output index.
    pub classes: Vec<String>,
    /// The training rows' time span.
    pub training_period: Option<TrainingPeriod>,
    /// The instrument a fine-tuned model belongs to; `None` for a pooled model.
    pub instrument: Option<String>,
    /// Scores, free-form (per fold and overall, model and baselines).
    pub metrics: serde_json::Value,
    /// The training seed.
    pub seed: u64,
    /// Divides the network's log-probabilities before the softmax ([`crate::fit_temperature`],
    /// fitted on the validation rows); every prediction is calibrated by it. `None`: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Where the training data came from (`None` in models saved before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
}

/// What a model was trained from, for an audit: the data's sources and content hashes, and the
/// config's hash, so a model can be traced to (and checked against) its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    /// Where the bars were read from (one line per instrument: file, or generator settings).
    pub data_sources: Vec<String>,
    /// Stable hash of the bars the model saw (every instrument, first bar to `seen_until`).
    pub bars_hash: String,
    /// Stable hash of the model's input columns over those bars, before standardisation.
    pub features_hash: String,
    /// Hash of the config's tables that training reads (`[data]`, `[[features]]`, `[model]`,
    /// `[training]`), so where the model is saved does not change it.
    pub config_hash: String,
}

impl ModelMetadata {
    /// Returns metadata for a model trained with these configs; the caller fills in the training
    /// period, instrument and metrics.
    pub fn new(
        target: Target,
        model: &ModelConfig,
        training: &TrainingConfig,
        feature_columns: &[String],
        pipeline: &[FeatureConfig],
        standardizer: &Standardizer,
        vol_terciles: Option<VolTerciles>,
    ) -> Self {
        let classes = match target {
            Target::Trend => super::labels::TREND_CLASSES,
            Target::Volatility => super::labels::VOL_CLASSES,
        };
        Self {
            format: FORMAT_VERSION,
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            target,
            model: model.clone(),
            training: training.clone(),
            feature_columns: feature_columns.to_vec(),
            pipeline: pipeline.to_vec(),
            standardizer: standardizer.clone(),
            vol_terciles,
            classes: classes.iter().map(|c| c.to_string()).collect(),
            training_period: None,
            instrument: None,
            metrics: serde_json::Value::Null,
            seed: training.seed,
            temperature: None,
            lineage: None,
        }
    }
}

/// `model.json`: the id and the metadata it covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model_id: String,
    metadata: ModelMetadata,
}

/// A model read back from its directory.
#[derive(Debug)]
pub struct LoadedModel {
    /// The network, ready for inference.
    pub model: TrendModel,
    /// Its metadata.
    pub metadata: ModelMetadata,
    /// The hash of weights and metadata.
    pub model_id: String,
}

impl LoadedModel {
    /// Calibrates the network's class probabilities (row-major) with the saved temperature.
    pub fn calibrate(&self, probs: &mut [f32]) {
        if let Some(t) = self.metadata.temperature {
            super::temperature::apply_temperature(probs, self.metadata.classes.len(), t);
        }
    }

    /// Checks that `pipeline` computes every saved feature exactly as in training (same table
    /// under the same name; extra features are fine).
    ///
    /// # Errors
    /// Names the first saved feature that is missing or configured differently.
    pub fn check_pipeline(&self, pipeline: &[FeatureConfig]) -> Result<()> {
        for (position, saved) in self.metadata.pipeline.iter().enumerate() {
            match pipeline.iter().find(|f| f.name == saved.name) {
                Some(f) if f == saved => {}
                found => {
                    return Err(MlError::PipelineMismatch {
                        position,
                        expected: format!("feature `{}` as {saved:?}", saved.name),
                        found: found.map_or("no feature of that name".into(), |f| format!("{f:?}")),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Writes `model` and `metadata` to `dir` (created if needed) and returns the model id.
///
/// # Errors
/// Returns an error when the metadata does not describe the model or a file cannot be written.
pub fn save(dir: &Path, model: &TrendModel, metadata: &ModelMetadata) -> Result<String> {
    check_consistent(model, metadata)?;
    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    // Each file is written beside its target and renamed into place, so a crash or a full disk
    // leaves the previous model (or none), never a truncated one that looks whole.
    let weights = dir.join(WEIGHTS_FILE);
    let unwritten = |e| io(&weights, market_data::atomic::io_error(e));
    let (pending, file) = PendingFile::create(&weights).map_err(unwritten)?;
    drop(file);
    model.varmap().save(pending.path())?;
    pending.commit().map_err(unwritten)?;
    let model_id = model_id(model, metadata)?;
    let file = ModelFile {
        model_id: model_id.clone(),
        metadata: metadata.clone(),
    };
    let path = dir.join(METADATA_FILE);
    let json = serde_json::to_string_pretty(&file).map_err(|source| MlError::Metadata {
        path: path.clone(),
        source,
    })?;
    atomic::write(&path, json.as_bytes()).map_err(|source| io(&path, source))?;
    Ok(model_id)
}

/// Reads the model in `dir`, checking that it was trained on `expected_feature_columns` (the
/// running pipeline's columns, in order) and that its files are unchanged since saving.
///
/// # Errors
/// Names the first column that differs; also fails on a missing or malformed file or a changed
/// model (model id mismatch).
pub fn load(dir: &Path, expected_feature_columns: &[String]) -> Result<LoadedModel> {
    load_with(dir, Some(expected_feature_columns))
}

/// Reads the model in `dir` for a caller that places its columns itself (the model stage looks
/// each one up in the running pipeline), checking only that its files are unchanged.
///
/// # Errors
/// As [`load`], without the column check.
pub fn load_saved_columns(dir: &Path) -> Result<LoadedModel> {
    load_with(dir, None)
}

fn load_with(dir: &Path, expected_feature_columns: Option<&[String]>) -> Result<LoadedModel> {
    let path = dir.join(METADATA_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| io(&path, source))?;
    let file: ModelFile = serde_json::from_str(&text).map_err(|source| MlError::Metadata {
        path: path.clone(),
        source,
    })?;
    let metadata = file.metadata;
    if let Some(expected) = expected_feature_columns {
        check_columns(&metadata.feature_columns, expected)?;
    }
    let model = TrendModel::new(
        &metadata.model,
        metadata.feature_columns.len(),
        metadata.classes.len(),
        metadata.seed,
    )?;
    let weights = dir.join(WEIGHTS_FILE);
    std::fs::metadata(&weights).map_err(|source| io(&weights, source))?;
    // The VarMap shares its variables with the model's layers, so loading updates them.
    model.varmap().clone().load(&weights)?;
    check_consistent(&model, &metadata)?;
    let computed = model_id(&model, &metadata)?;
    if computed != file.model_id {
        return Err(MlError::ModelIdMismatch {
            dir: dir.to_path_buf(),
            stored: file.model_id,
            computed,
        });
    }
    Ok(LoadedModel {
        model,
        metadata,
        model_id: computed,
    })
}

/// Returns the FNV-1a 64 hash, in hex, of every weight (by name: name, shape, little-endian
/// values) followed by the metadata's JSON.
///
/// # Errors
/// Returns an error when a weight cannot be read or the metadata cannot be serialised.
pub fn model_id(model: &TrendModel, metadata: &ModelMetadata) -> Result<String> {
    let mut hash = Fnv1a::new();
    for (name, values) in model.weights()? {
        hash.write(name.as_bytes());
        hash.write(&[0]);
        hash.write(&(values.len() as u64).to_le_bytes());
        for v in values {
            hash.write(&v.to_le_bytes());
        }
    }
    let json = serde_json::to_vec(metadata).map_err(|source| MlError::Metadata {
        path: PathBuf::from(METADATA_FILE),
        source,
    })?;
    hash.write(&json);
    Ok(format!("{:016x}", hash.0))
}

/// 64-bit FNV-1a: tiny, dependency-free and stable across platforms and releases.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn check_columns(saved: &[String], given: &[String]) -> Result<()> {
    let none = || "no column".to_string();
    for position in 0..saved.len().max(given.len()) {
        let (s, g) = (saved.get(position), given.get(position));
        if s != g {
            return Err(MlError::PipelineMismatch {
                position,
                expected: s.map_or_else(none, |c| format!("`{c}`")),
                found: g.map_or_else(none, |c| format!("`{c}`")),
            });
        }
    }
    Ok(())
}

fn check_consistent(model: &TrendModel, metadata: &ModelMetadata) -> Result<()> {
    let described = (
        &metadata.model,
        metadata.feature_columns.len(),
        metadata.classes.len(),
        metadata.standardizer.features(),
    );
    let actual = (
        model.config(),
        model.features(),
        model.classes(),
        model.features(),
    );
    if described != actual {
        return Err(MlError::Shape {
            what: "model metadata",
            expected: format!(
                "{:?} with {} features ({} standardised) and {} classes, as the model",
                actual.0.kind, actual.1, actual.3, actual.2
            ),
            got: format!(
                "{:?} with {} feature columns ({} standardised) and {} classes",
                described.0.kind, described.1, described.3, described.2
            ),
        });
    }
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> MlError {
    MlError::Io {
        path: path.to_path_buf(),
        source,
    }
}
